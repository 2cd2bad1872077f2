import numpy as np
import pytest
import scipy.sparse as sp

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.ranking import EXCLUDED, top_k
from music_recsys.kinds.cooccurrence import Cooccurrence
from music_recsys.kinds.embedding import Embedding
from music_recsys.kinds.most_popular import MostPopular


@pytest.fixture
def index() -> TrackIndex:
    return TrackIndex(
        np.array(["A|||a", "A|||b", "B|||c", "C|||d"], dtype=object), np.array([9, 5, 5, 1])
    )


def q(*indices, decay=1.0):
    return Query.of(np.array(indices, dtype=np.int64), decay)


def test_top_k_orders_by_score_and_breaks_ties_by_lower_index():
    scores = np.array([[0.5, 1.0, 1.0, 0.5, 2.0]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[4, 1, 2]]
    assert top_k(scores, 4).tolist() == [[4, 1, 2, 0]]


def test_top_k_never_returns_excluded_tracks():
    scores = np.array([[EXCLUDED, 1.0, EXCLUDED]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[1, -1, -1]]


def test_query_weights_decay_towards_the_past():
    assert q(5, 6, 7, decay=0.5).weights.tolist() == [0.25, 0.5, 1.0]


def test_most_popular_excludes_the_query_tracks(index):
    scores, fell_back = MostPopular(index).scores([q(0)])
    assert top_k(scores, 3).tolist() == [[1, 2, 3]]
    assert fell_back.tolist() == [False]


def test_cooccurrence_sums_weighted_rows_and_falls_back_to_popularity(index):
    graph = sp.csr_matrix(
        np.array([[0, 1, 0, 3], [1, 0, 2, 0], [0, 2, 0, 0], [3, 0, 0, 0]], dtype=np.float32)
    )
    model = Cooccurrence(index, graph=graph)
    scores, fell_back = model.scores(
        [q(0), q(0, 1, decay=0.5), Query(np.array([], dtype=np.int64), np.array([]))]
    )
    assert scores[0].tolist() == [EXCLUDED, 1, 0, 3]
    assert scores[1].tolist() == [EXCLUDED, EXCLUDED, 2, 1.5]
    assert top_k(scores, 2).tolist() == [[3, 1], [2, 3], [0, 1]]  # the empty query: most popular
    assert fell_back.tolist() == [False, False, True]


def test_unknown_tracks_are_left_out_of_the_query(index):
    assert index.lookup(["C|||d", "nope|||x", "A|||a"]).tolist() == [3, 0]


def test_embedding_cosine_and_unscorable_tracks(index):
    vectors = np.array([[1, 0], [0.8, 0.6], [0, 1], [0, 0]], dtype=np.float32)
    has_vector = np.array([True, True, True, False])
    model = Embedding(index, query_vectors=vectors, item_vectors=vectors, has_vector=has_vector)
    scores, _ = model.scores([q(0)])
    assert top_k(scores, 3).tolist() == [[1, 2, 3]]  # 0.8 > 0 > no vector at all
    scores, fell_back = model.scores([q(3)])  # a query track without a vector → popularity
    assert fell_back.tolist() == [True]
    assert top_k(scores, 3).tolist() == [[0, 1, 2]]


def test_embedding_in_out_scores_with_the_item_vectors(index):
    query_vectors = np.array([[1, 0], [1, 0], [1, 0], [1, 0]], dtype=np.float32)
    item_vectors = np.array([[0, 0], [1, 0], [3, 0], [2, 0]], dtype=np.float32)
    model = Embedding(
        index,
        query_vectors=query_vectors,
        item_vectors=item_vectors,
        has_vector=np.ones(4, bool),
        scoring="in_out",
    )
    scores, _ = model.scores([q(0)])
    assert top_k(scores, 3).tolist() == [[2, 3, 1]]
    assert scores[0, 2] == pytest.approx(3.0)


def test_track_index_pickles(index):
    import pickle  # noqa: PLC0415

    again = pickle.loads(pickle.dumps(index))
    assert again.lookup(["B|||c"]).tolist() == [2]


def _reference_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """A full sort per row: score down, index up, excluded tracks left out."""
    n = scores.shape[1]
    top = np.full((len(scores), min(k, n)), -1)
    for row, values in enumerate(scores):
        order = np.lexsort((np.arange(n), -values.astype(np.float64)))
        order = order[values[order] != EXCLUDED][: top.shape[1]]
        top[row, : len(order)] = order
    return top


@pytest.mark.parametrize("seed", range(40))
def test_rank_is_the_top_k_of_the_dense_scores_for_every_kind(seed):
    """``rank`` (sparse gathers, no dense rows for the graph kinds) equals the definition."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 40)), int(rng.integers(1, 15))
    index = TrackIndex(
        np.array([f"t{i}" for i in range(n)], dtype=object),
        np.sort(rng.integers(0, 5, n))[::-1],  # ties in popularity too
    )
    counts = (rng.random((n, n)) < 0.15) * rng.integers(1, 4, (n, n))
    np.fill_diagonal(counts, 0)
    vectors = rng.standard_normal((n, 3)).astype(np.float32)
    vectors[rng.random(n) < 0.2] = 0
    models = [
        MostPopular(index),
        Cooccurrence(index, graph=sp.csr_matrix(counts.astype(np.float32))),
        Embedding(
            index, query_vectors=vectors, item_vectors=vectors, has_vector=vectors.any(axis=1)
        ),
    ]
    decay = float(rng.choice([1.0, 0.5]))
    queries = [
        q(*rng.choice(n, size=int(rng.integers(0, min(n, 6) + 1)), replace=False), decay=decay)
        for _ in range(7)
    ]
    for model in models:
        scores, fell_back = model.scores(queries)
        expected = _reference_top_k(scores, k)
        top, top_scores, ranked_fell_back = model.rank(queries, k)
        assert top.tolist() == expected.tolist(), model.kind
        assert top_k(scores, k).tolist() == expected.tolist()
        assert ranked_fell_back.tolist() == fell_back.tolist()
        want = np.where(expected >= 0, np.take_along_axis(scores, np.maximum(expected, 0), 1), 0)
        np.testing.assert_array_equal(top_scores, want.astype(np.float32))


def test_top_k_of_a_large_row_uses_its_sample_threshold_exactly():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 50, size=(3, 5000)).astype(np.float32)  # many ties
    scores[1, ::7] = EXCLUDED
    assert top_k(scores, 100).tolist() == _reference_top_k(scores, 100).tolist()
