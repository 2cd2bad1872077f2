"""Parity: what "the package answers as the evaluation ranked" means, query by query."""

from __future__ import annotations

import numpy as np


def compare_rankings(
    expected_ids: list[list[str]],
    expected_scores: list[np.ndarray],
    served_ids: list[list[str]],
    served_scores: list[np.ndarray],
    rtol: float = 1e-5,
) -> tuple[list[int], list[int]]:
    """Which served answers differ from the evaluated ones, and which only swap equal scores.

    An answer matches when its scores equal the evaluated scores position by position (within
    ``rtol``, relative) and its ids are the evaluated ids, except that tracks whose scores are
    equal may trade places — within such a group, or, in the last group, with a track of the
    same score just past K. Those answers are counted apart: summing in another order can move
    the last bit of a float and so the order of two tracks that score the same.

    Returns:
        ``(mismatches, swaps)``: query positions that differ, and those that only swap.
    """
    mismatches, swaps = [], []
    for i, (want, want_raw, got, got_raw) in enumerate(
        zip(expected_ids, expected_scores, served_ids, served_scores, strict=True)
    ):
        want_values = np.asarray(want_raw, dtype=np.float64)
        got_values = np.asarray(got_raw, dtype=np.float64)[: len(got)]
        same_scores = len(want) == len(got) and np.allclose(
            want_values, got_values, rtol=rtol, atol=1e-6
        )
        if want == got and same_scores:
            continue
        if not same_scores:
            mismatches.append(i)
            continue
        # Groups of consecutive equal scores: every group but the last must hold the same ids.
        tolerance = rtol * np.maximum(np.abs(want_values[:-1]), 1e-12)
        breaks = np.flatnonzero(np.abs(np.diff(want_values)) > tolerance) + 1
        groups = np.split(np.arange(len(want)), breaks)
        if all({want[j] for j in g} == {got[j] for j in g} for g in groups[:-1]):
            swaps.append(i)
        else:
            mismatches.append(i)
    return mismatches, swaps
