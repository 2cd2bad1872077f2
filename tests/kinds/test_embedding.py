"""Ranking by track vectors (word2vec, iALS)."""

import numpy as np
import pytest

from music_recsys.core.ranking import top_k
from music_recsys.kinds.embedding import Embedding
from tests.shared import q


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
