"""The training rows as arrays: pair graphs counted as by hand."""

import numpy as np
import pandas as pd
import pytest

from music_recsys.core.training_rows import build_track_index, pair_graph
from music_recsys.duckdb_sql import relation
from tests.shared import playlists

TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b")


@pytest.fixture
def track_index() -> pd.DataFrame:
    return build_track_index(relation(TRAIN))


def test_pair_graphs_count_what_they_should(track_index):
    def dense(window, directed):
        graph = pair_graph(relation(TRAIN), track_index, window, directed).toarray()
        names = track_index["track_id"].str[-1].tolist()
        return pd.DataFrame(graph, index=names, columns=names)

    transitions = dense(1, True)
    assert (
        transitions.loc["a", "b"] == 4
        and transitions.loc["b", "a"] == 0
        and transitions.loc["e", "a"] == 1
    )
    window_2 = dense(2, False)
    assert window_2.loc["a", "c"] == window_2.loc["c", "a"] == 1 and window_2.loc["e", "b"] == 1
    anywhere = dense(None, False)
    assert anywhere.loc["e", "b"] == 1 and np.all(np.diag(anywhere.values) == 0)


def test_pair_graph_matches_counting_every_pair_by_hand():
    rng = np.random.default_rng(3)
    rows = playlists(
        *[" ".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 9))) for _ in range(30)]
    )
    index = build_track_index(relation(rows))
    position = {t: i for i, t in enumerate(index["track_id"])}
    for window, directed, inverse in (
        (1, True, False),
        (3, True, False),
        (3, False, False),
        (3, True, True),
    ):
        expected = np.zeros((len(index), len(index)))
        for _, group in rows.groupby("playlist_id"):
            ids = [position[t] for t in group.sort_values("position")["track_id"]]
            for i, a in enumerate(ids):
                for distance, b in enumerate(ids[i + 1 : i + 1 + window], start=1):
                    if a != b:
                        weight = 1 / distance if inverse else 1
                        expected[a, b] += weight
                        if not directed:
                            expected[b, a] += weight
        graph = pair_graph(relation(rows), index, window, directed, inverse_distance=inverse)
        np.testing.assert_allclose(graph.toarray(), expected, rtol=1e-6)
        assert graph.indices.dtype == np.int32  # 32-bit indices: half the memory
