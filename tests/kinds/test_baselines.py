"""The baselines: most popular, co-occurrence, sequential rules."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from music_recsys.core.catalog import Query
from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.ranking import EXCLUDED, top_k
from music_recsys.core.recency import Recency
from music_recsys.core.training_rows import build_track_index, pair_graph
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.cooccurrence import Cooccurrence, CooccurrenceSettings
from music_recsys.kinds.most_popular import MostPopular
from music_recsys.kinds.sequential_rules import SequentialRulesSettings
from tests.shared import SORTED, fit, playlists, q

TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b")


@pytest.fixture
def track_index() -> pd.DataFrame:
    return build_track_index(relation(TRAIN))


def test_baselines_recommend_the_obvious(track_index):
    queries = pd.DataFrame({"playlist_id": [0], "query": [["X|||a"]], "target": ["X|||b"]})
    for model in (
        fit("most_popular", TRAIN, index=track_index).recommender,
        fit("cooccurrence", TRAIN, CooccurrenceSettings(window=1), index=track_index).recommender,
        fit("sequential_rules", TRAIN, index=track_index).recommender,
    ):
        top, _, ranks, *_ = rank_targets(model, queries, EvaluationParams())
        assert ranks.tolist() == [0.0], model.kind
        assert "X|||a" not in track_index["track_id"].to_numpy()[top[0][top[0] >= 0]]


def test_most_popular_excludes_the_query_tracks(index):
    scores, fell_back = MostPopular(index).scores([q(0)])
    assert top_k(scores, 3).tolist() == [[1, 2, 3]]
    assert fell_back.tolist() == [False]


def test_cooccurrence_sums_weighted_rows_and_falls_back_to_popularity(index):
    graph = sp.csr_matrix(
        np.array([[0, 1, 0, 3], [1, 0, 2, 0], [0, 2, 0, 0], [3, 0, 0, 0]], dtype=np.float32)
    )
    model = Cooccurrence(index, graph=graph, recency=Recency("geometric", 0.5))
    scores, fell_back = model.scores(
        [q(0), q(0, 1), Query(np.array([], dtype=np.int64), np.array([]))]
    )
    assert scores[0].tolist() == [EXCLUDED, 1, 0, 3]
    assert scores[1].tolist() == [EXCLUDED, EXCLUDED, 2, 1.5]
    assert top_k(scores, 2).tolist() == [[3, 1], [2, 3], [0, 1]]  # the empty query: most popular
    assert fell_back.tolist() == [False, False, True]


def test_sequential_rules_count_a_track_d_places_on_one_over_d():
    tiny = playlists("a b c", "a d", "b c d", "e")
    model = fit("sequential_rules", tiny, SequentialRulesSettings(window=2)).recommender
    # After a: b directly (1), c two places on (1/2), d directly in another playlist (1).
    top, scores, _ = model.rank([Query.of(model.index.lookup(["X|||a"]))], 3)
    assert [model.index.track_ids[i] for i in top[0]] == ["X|||b", "X|||d", "X|||c"]
    np.testing.assert_allclose(scores[0], [1.0, 1.0, 0.5])
    # window 1 is first-order transitions: c no longer follows a.
    first_order = fit("sequential_rules", tiny).recommender
    assert first_order.graph[0].toarray().tolist() == [[0, 1, 0, 1, 0]]


def test_co_occurrence_reads_a_seeded_random_order_when_rows_are_sorted_by_title():
    train = relation(playlists(*["a b c d e f", "b c d e f a", "c a e b d f"] * 3))
    index = build_track_index(train)
    settings = CooccurrenceSettings(window=1)
    ordered = fit("cooccurrence", train, settings, index=index)
    shuffled = fit("cooccurrence", train, settings, SORTED, index=index)
    stats, shuffled_stats = ordered.stats, shuffled.stats
    ordered, shuffled = ordered.recommender, shuffled.recommender
    assert "order" not in stats and "random order" in shuffled_stats["order"]
    assert (ordered.graph != shuffled.graph).nnz > 0
    assert ordered.graph.sum() == shuffled.graph.sum()  # as many pairs, other partners
    again = pair_graph(train, index, 1, directed=False, shuffled=True)
    assert (again != shuffled.graph).nnz == 0  # the same order every run
