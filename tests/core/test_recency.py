"""Recency: the weightings by hand, the package's record of them, and where they are off."""

import numpy as np
import pytest
from pydantic import ValidationError

from music_recsys.core.recency import NO_RECENCY, WEIGHTINGS, Recency, effective, weights_of
from music_recsys.kinds.cooccurrence import CooccurrenceSettings
from music_recsys.kinds.playlist_knn import PlaylistKnnSettings


def test_each_weighting_by_hand_the_last_track_weighing_one():
    steps = np.array([3, 2, 1, 0])  # oldest first: the last track is 0 steps from the end
    expected = {
        "same": [1, 1, 1, 1],
        "linear": [0.7, 0.8, 0.9, 1],
        "div": [1 / 4, 1 / 3, 1 / 2, 1],
        "quadratic": [1 / 16, 1 / 9, 1 / 4, 1],
        "log": [np.log10(2.7) / np.log10(d + 1.7) for d in (4, 3, 2, 1)],
    }
    for weighting, want in expected.items():
        got = weights_of(steps, weighting)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=weighting)
    np.testing.assert_allclose(weights_of(steps, "geometric", 0.5), [0.125, 0.25, 0.5, 1])
    assert weights_of(steps, "geometric", 0.0).tolist() == [0, 0, 0, 1]  # the last track alone
    assert weights_of(np.arange(12), "linear")[10:].tolist() == [0, 0]  # 11th back and older


def test_weights_never_grow_towards_the_past():
    steps = np.arange(50)
    for weighting in WEIGHTINGS:
        w = weights_of(steps, weighting, 0.7)
        assert w[0] == 1 and np.all(np.diff(w) <= 0), weighting


def test_a_recency_survives_the_package_as_an_array():
    for recency in (Recency("quadratic"), Recency("geometric", 0.35), NO_RECENCY):
        assert Recency.from_array(recency.as_array()) == recency
    assert Recency("geometric", 1.0).flat and not Recency("div").flat
    assert Recency("log").weights(3).tolist() == weights_of(np.array([2, 1, 0]), "log").tolist()


def test_recency_is_off_where_the_order_cannot_be_read():
    assert effective("div", 1.0, reads_order=False) == NO_RECENCY
    assert effective("div", 1.0, reads_order=True) == Recency("div")


def test_a_recency_setting_out_of_range_is_refused_naming_it():
    with pytest.raises(ValidationError, match="recency_decay"):
        CooccurrenceSettings(recency="geometric", recency_decay=1.5)
    with pytest.raises(ValidationError, match="recency"):
        CooccurrenceSettings(recency="newest")
    with pytest.raises(ValidationError, match="position_decay"):
        PlaylistKnnSettings(position_decay=0.0)
    with pytest.raises(ValueError, match="recency decay"):
        Recency("geometric", -0.1)
