"""The catalog and the query."""

import pickle

import pandas as pd
import pytest

from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from tests.shared import playlists, q

TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b")


@pytest.fixture
def track_index() -> pd.DataFrame:
    return build_track_index(relation(TRAIN))


def test_track_index_counts(track_index):
    counts = dict(zip(track_index["track_id"], track_index["count"], strict=True))
    assert counts == {"X|||b": 5, "X|||a": 4, "X|||c": 2, "X|||d": 1, "X|||e": 1}
    assert track_index["track_id"].tolist()[0] == "X|||b"


def test_a_query_is_its_tracks_oldest_first_each_weighing_one():
    query = q(5, 6, 7)
    assert query.indices.tolist() == [5, 6, 7] and query.weights.tolist() == [1.0, 1.0, 1.0]


def test_unknown_tracks_are_left_out_of_the_query(index):
    assert index.lookup(["C|||d", "nope|||x", "A|||a"]).tolist() == [3, 0]


def test_track_index_pickles(index):

    again = pickle.loads(pickle.dumps(index))
    assert again.lookup(["B|||c"]).tolist() == [2]
