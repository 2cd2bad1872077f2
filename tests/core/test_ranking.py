"""The ranking rules every recommender follows."""

import numpy as np

from music_recsys.core.ranking import EXCLUDED, top_k


def test_top_k_orders_by_score_and_breaks_ties_by_lower_index():
    scores = np.array([[0.5, 1.0, 1.0, 0.5, 2.0]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[4, 1, 2]]
    assert top_k(scores, 4).tolist() == [[4, 1, 2, 0]]


def test_top_k_never_returns_excluded_tracks():
    scores = np.array([[EXCLUDED, 1.0, EXCLUDED]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[1, -1, -1]]


def test_top_k_of_a_large_row_uses_its_sample_threshold_exactly():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 50, size=(3, 5000)).astype(np.float32)  # many ties
    scores[1, ::7] = EXCLUDED
    assert top_k(scores, 100).tolist() == _reference_top_k(scores, 100).tolist()


def _reference_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """A full sort per row: score down, index up, excluded tracks left out."""
    n = scores.shape[1]
    top = np.full((len(scores), min(k, n)), -1)
    for row, values in enumerate(scores):
        order = np.lexsort((np.arange(n), -values.astype(np.float64)))
        order = order[values[order] != EXCLUDED][: top.shape[1]]
        top[row, : len(order)] = order
    return top
