import numpy as np
import pytest
import scipy.sparse as sp

from music_recsys.pipelines.data_science.recommenders import (
    EXCLUDED,
    Cooccurrence,
    Embedding,
    MostPopular,
    Query,
    TrackIndex,
    top_k,
)


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
