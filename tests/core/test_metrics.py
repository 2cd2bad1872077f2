"""Ranking metrics: hand-computed values, a perfect ranking, no hit, ties, empty input."""

import numpy as np
import pytest

from music_recsys.core import metrics as m

INF = np.inf
METRICS = ("hit_rate", "mrr", "ndcg")


def value(ranks, metric, k):
    """The metric as the evaluation reports it: the mean of its per-query values."""
    return m.mean(m.per_query(np.asarray(ranks, dtype=float), metric, k))


def test_hand_computed_values():
    ranks = [0, 2, INF, 9, 10]
    assert value(ranks, "hit_rate", 10) == pytest.approx(3 / 5)
    assert value(ranks, "hit_rate", 1) == pytest.approx(1 / 5)
    assert value(ranks, "mrr", 10) == pytest.approx((1 + 1 / 3 + 1 / 10) / 5)
    assert value(ranks, "mrr", 2) == pytest.approx(1 / 5)
    assert value(ranks, "ndcg", 10) == pytest.approx((1 + 1 / np.log2(4) + 1 / np.log2(11)) / 5)
    assert m.per_query(np.array(ranks, dtype=float), "mrr", 10).tolist() == pytest.approx(
        [1, 1 / 3, 0, 1 / 10, 0]
    )


@pytest.mark.parametrize("metric", METRICS)
def test_perfect_ranking_scores_one_and_no_hit_scores_zero(metric):
    assert value([0, 0, 0, 0], metric, 10) == 1.0
    assert value([INF] * 4, metric, 10) == 0.0
    assert np.isnan(value([], metric, 10))


@pytest.mark.parametrize("metric", METRICS)
def test_metrics_never_fall_as_k_grows_and_stay_in_zero_one(metric):
    ranks = [0, 3, 7, 15, 40, INF]
    values = [value(ranks, metric, k) for k in (1, 5, 10, 20, 50)]
    assert values == sorted(values)
    assert all(0 <= v <= 1 for v in values)


def test_ties_in_rank_count_alike_and_an_unknown_metric_is_refused():
    assert value([1, 1], "mrr", 10) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="Unknown metric 'map'"):
        m.per_query(np.zeros(2), "map", 10)


def test_the_standard_error_is_that_of_the_mean():
    values = np.array([1.0, 0.0, 1.0, 1.0])
    assert m.standard_error(values) == pytest.approx(np.std(values, ddof=1) / 2)
    assert np.isnan(m.standard_error(np.array([1.0])))


def test_target_ranks_finds_the_position_or_inf():
    top = np.array([[3, 1, 2], [0, -1, -1], [4, -1, -1]])
    assert m.target_ranks(top, np.array([2, 5, -1])).tolist() == [2, INF, INF]  # -1: unseen target


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
