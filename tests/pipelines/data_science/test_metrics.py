import math

import numpy as np
import pytest

from music_recsys.core import metrics as m

INF = np.inf


def test_target_ranks_finds_the_position_or_inf():
    top = np.array([[3, 1, 2], [0, -1, -1], [4, -1, -1]])
    assert m.target_ranks(top, np.array([2, 5, -1])).tolist() == [2, INF, INF]  # -1: unseen target


def test_hand_computed_values():
    ranks = np.array([0, 2, INF, 9, 10])
    assert m.hit_rate(ranks, 10) == pytest.approx(3 / 5)
    assert m.hit_rate(ranks, 1) == pytest.approx(1 / 5)
    assert m.mrr(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 10) / 5)
    assert m.mrr(ranks, 2) == pytest.approx(1 / 5)
    assert m.ndcg(ranks, 10) == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(11)) / 5)


@pytest.mark.parametrize("metric", [m.hit_rate, m.mrr, m.ndcg])
def test_perfect_ranking_scores_one_and_no_hit_scores_zero(metric):
    assert metric(np.zeros(4), 10) == 1.0
    assert metric(np.full(4, INF), 10) == 0.0
    assert math.isnan(metric(np.array([]), 10))


@pytest.mark.parametrize("metric", [m.hit_rate, m.mrr, m.ndcg])
def test_metrics_never_fall_as_k_grows(metric):
    ranks = np.array([0, 3, 7, 15, 40, INF])
    values = [metric(ranks, k) for k in (1, 5, 10, 20, 50)]
    assert values == sorted(values)
    assert all(0 <= v <= 1 for v in values)


def test_ties_in_rank_count_alike():
    assert m.mrr(np.array([1, 1]), 10) == pytest.approx(0.5)


def test_coverage_counts_distinct_tracks_shown():
    top = np.array([[0, 1], [1, 2], [1, -1]])
    assert m.coverage(top, 1, 4) == pytest.approx(2 / 4)
    assert m.coverage(top, 2, 4) == pytest.approx(3 / 4)


def test_mean_popularity_of_recommended_tracks():
    counts = np.array([10, 5, 1])
    assert m.mean_popularity(np.array([[0, 1], [2, -1]]), 2, counts) == pytest.approx(16 / 3)


def test_popularity_buckets_split_training_rows_in_thirds():
    assert m.popularity_buckets(np.array([60, 20, 10, 10])).tolist() == [
        "head",
        "torso",
        "tail",
        "tail",
    ]
    assert m.popularity_buckets(np.array([1, 1, 1])).tolist() == ["head", "torso", "tail"]


def test_hit_rate_by_bucket():
    buckets = np.array(["head", "torso", "tail"])
    ranks = np.array([0, INF, 3, INF])
    targets = np.array([0, 1, 2, -1])
    result = m.hit_rate_by_bucket(ranks, targets, buckets, 10)
    assert result["head"] == {"hit_rate": 1.0, "queries": 1}
    assert result["torso"] == {"hit_rate": 0.0, "queries": 1}
    assert result["tail"] == {"hit_rate": 1.0, "queries": 1}
    assert result["unseen"] == {"hit_rate": 0.0, "queries": 1}
