"""The tuning rows and queries come from the training playlists only, disjoint and seeded."""

import pandas as pd

from music_recsys.core.protocol import EvaluationParams
from music_recsys.duckdb_sql import relation
from music_recsys.tables import to_pandas
from music_recsys.tuning.data import split_for_tuning
from music_recsys.tuning.params import TuningParams
from tests.shared import ROWS

CONTINUATION = {"protocol": "continuation", "reason": "test"}


def split(**tuning):
    fitting, queries = split_for_tuning(
        relation(ROWS), CONTINUATION, EvaluationParams(), TuningParams(**tuning)
    )
    return to_pandas(fitting), queries


def test_queries_and_fitting_rows_are_other_training_playlists():
    fitting, queries = split(holdout=0.2)
    fit_ids, query_ids = set(fitting["playlist_id"]), set(queries["playlist_id"])
    assert not fit_ids & query_ids
    assert fit_ids | query_ids <= set(ROWS["playlist_id"])
    assert len(query_ids) == 30 and len(fit_ids) == 120  # 150 playlists, a fifth held out
    # Whole playlists, in play order.
    expected = ROWS[ROWS["playlist_id"].isin(fit_ids)].sort_values(["playlist_id", "position"])
    pd.testing.assert_frame_equal(
        fitting.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )


def test_the_split_is_seeded_and_the_fitting_sample_capped():
    a, qa = split(max_fit_playlists=50)
    b, qb = split(max_fit_playlists=50)
    c, _ = split(max_fit_playlists=50, seed=1)
    assert a["playlist_id"].nunique() == 50
    assert a.equals(b) and qa.equals(qb)
    assert set(a["playlist_id"]) != set(c["playlist_id"])


def test_queries_are_capped_at_max_queries():
    _, queries = split(holdout=0.5, max_queries=10)
    assert len(queries) == 10
