"""The selection rule: which candidate ships, decided on validation only.

The rule: among the candidates that may compete (those that read the play order sit
out when the rows are sorted by title), the simplest candidate that no other beats on the
validation metric by more than ``min_lead_se`` paired standard errors (one, by default) — the
error of the mean per-query difference between the two on the same queries. On a small
validation set (fewer counted queries than ``small_validation_queries``) the lead must be
``small_validation_min_lead_se`` paired SEs (two): more candidates, tuned, give more chances to
a lucky one, and a small set gives luck room. The best candidate always qualifies, so the
rule only ever trades a lead within noise for simplicity; the selection records the rule, the
validation set's size and how clear the choice is, and the explanation says which rule
decided.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from music_recsys.core import metrics as m
from music_recsys.core.protocol import EvaluationParams, sits_out

logger = logging.getLogger(__name__)


def paired_differences(a: pd.DataFrame, b: pd.DataFrame, metric: str, k: int) -> np.ndarray:
    """Per query, ``a``'s value of ``metric`` at ``k`` minus ``b``'s, on the queries both count
    (``a`` and ``b``: per-query ranks from :func:`~music_recsys.core.evaluation.evaluate`)."""
    joined = a.merge(b, on="playlist_id", suffixes=("_a", "_b"))
    joined = joined[joined["counted_a"] & joined["counted_b"]]
    return m.per_query(joined["rank_a"].to_numpy(), metric, k) - m.per_query(
        joined["rank_b"].to_numpy(), metric, k
    )


def _paired_se(a: pd.DataFrame, b: pd.DataFrame, metric: str, k: int) -> float:
    """Standard error of the mean per-query difference of ``metric`` at ``k`` (same queries)."""
    return m.standard_error(paired_differences(a, b, metric, k))


def select_candidate(
    evaluation: EvaluationParams,
    track_order_report: dict,
    kinds: dict[str, dict],
    **validation: dict | pd.DataFrame,
) -> dict:
    """Picks a candidate on validation by the rule in the module doc.

    Args:
        evaluation: ``selection_metric`` names the metric.
        track_order_report: data_processing's order check.
        kinds: Per candidate, its ``kind``, ``simplicity`` and ``needs_play_order``.
        **validation: ``<candidate>__metrics`` (from :func:`evaluate`) and
            ``<candidate>__ranks`` (its per-query ranks) for every candidate.

    Returns:
        ``selected``, ``is_baseline``, ``metric``, ``value``, ``standard_error``, ``rule``
        (which rule decided), ``left_out`` (candidates that sat out, and why), the validation
        ranking with each candidate's value, standard error and paired standard error against
        the selected one, and a sentence saying what was chosen and why.
    """
    metric = evaluation.selection_metric
    scores = {c.rsplit("__", 1)[0]: v for c, v in validation.items() if c.endswith("__metrics")}
    ranks = {c.rsplit("__", 1)[0]: v for c, v in validation.items() if c.endswith("__ranks")}
    if all(math.isnan(values[metric]) for values in scores.values()):
        raise ValueError(
            f"No candidate has a validation {metric}: the validation split has no playlist with "
            "two tracks or more. Use more data, or a larger split.validation share."
        )
    left_out = {
        c: reason
        for c in scores
        if (reason := sits_out(kinds[c]["needs_play_order"], track_order_report))
    }
    for c, reason in left_out.items():
        logger.info("Selection: %s sits out (%s)", c, reason)
    eligible = [c for c in scores if c not in left_out and not math.isnan(scores[c][metric])]
    value = {c: scores[c][metric] for c in eligible}
    queries = max((int(scores[c].get("queries", 0)) for c in eligible), default=0)
    needed = evaluation.lead_needed(queries)
    best, chosen = _apply_rule(eligible, value, ranks, kinds, metric, needed)
    se = {c: scores[c].get(f"{metric}_se", math.nan) for c in scores}
    paired = {
        c: _paired_se(ranks[c], ranks[chosen], *m.parse_metric(metric))
        for c in eligible
        if c != chosen
    }
    rule = "best on validation" if chosen == best else f"simpler within {needed:g} paired SE"
    explanation = _explain(best, chosen, eligible, value, se, paired, metric, left_out, needed)
    explanation += (
        f" Validation: {queries} queries; the rule: a less simple candidate must lead by more "
        f"than {needed:g} paired SE"
        + (
            f" (fewer than {evaluation.small_validation_queries} queries: stricter)."
            if needed > evaluation.min_lead_se
            else "."
        )
    )
    logger.info("Selection: %s", explanation)
    ranking = sorted(scores, key=lambda c: -np.nan_to_num(scores[c][metric], nan=-np.inf))
    return {
        "selected": chosen,
        "is_baseline": bool(kinds[chosen]["baseline"]),
        "metric": metric,
        "value": value[chosen],
        "standard_error": se[chosen],
        "rule": rule,
        "min_lead_se": needed,
        "validation_queries": queries,
        "clearness": _clearness(chosen, eligible, value, paired),
        "best_on_validation": best,
        "left_out": left_out,
        "validation_ranking": [
            {
                "candidate": c,
                metric: scores[c][metric],
                "standard_error": se[c],
                "paired_se_vs_selected": paired.get(c, 0.0 if c == chosen else math.nan),
                "eligible": c in eligible,
            }
            for c in ranking
        ],
        "explanation": explanation,
    }


def _clearness(chosen: str, eligible: list[str], value: dict, paired: dict) -> float:
    """How clear the choice is: the selected candidate's lead over the next best, in paired
    standard errors (negative: a better one was passed over for simplicity; inf: alone)."""
    others = [c for c in eligible if c != chosen]
    if not others:
        return math.inf
    runner_up = max(others, key=lambda c: value[c])
    se = paired.get(runner_up, math.nan)
    lead = value[chosen] - value[runner_up]
    return float(lead / se) if se and se > 0 else (math.inf if lead > 0 else 0.0)


def _apply_rule(
    eligible: list[str], value: dict, ranks: dict, kinds: dict, metric: str, needed: float = 1.0
) -> tuple[str, str]:
    """``(best, chosen)``: the best on validation (ties: the simpler, then by name), and the
    simplest candidate that no other beats by more than ``needed`` paired standard errors."""
    name, k = m.parse_metric(metric)
    best = min(eligible, key=lambda c: (-value[c], kinds[c]["simplicity"], c))
    simplest_first = sorted(eligible, key=lambda c: (kinds[c]["simplicity"], -value[c], c))

    def beaten(c: str) -> bool:
        return any(
            value[d] - value[c] > needed * np.nan_to_num(_paired_se(ranks[d], ranks[c], name, k))
            for d in eligible
            if d != c
        )

    return best, next(c for c in simplest_first if not beaten(c))


def _explain(
    best: str,
    chosen: str,
    eligible: list[str],
    value: dict,
    se: dict,
    paired: dict,
    metric: str,
    left_out: dict,
    needed: float = 1.0,
) -> str:
    """The selection in a sentence: which rule decided, with the figures it decided on."""
    if chosen == best:
        runner_up = max((c for c in eligible if c != best), key=lambda c: value[c], default=None)
        explanation = (
            f"'{best}' is best on validation {metric} ({value[best]:.4f} ± {se[best]:.4f})"
        )
        if runner_up:
            lead = value[best] - value[runner_up]
            if lead > 0:
                explanation += (
                    f", ahead of '{runner_up}' ({value[runner_up]:.4f}) by {lead:.4f} "
                    f"(paired SE {paired[runner_up]:.4f})"
                )
            else:
                explanation += f", level with the less simple '{runner_up}'"
            explanation += (
                f", and every simpler candidate trails it by more than {needed:g} paired SE"
            )
        explanation += "."
    else:
        explanation = (
            f"'{best}' scores best on validation {metric} ({value[best]:.4f}), but leads the "
            f"simpler '{chosen}' ({value[chosen]:.4f}) by {value[best] - value[chosen]:.4f}, "
            f"within {needed:g} paired standard error ({paired[best]:.4f}): '{chosen}' is "
            "selected."
        )
    if left_out:
        explanation += (
            f" Sat out: {', '.join(left_out)} (reads the play order; rows sorted by title)."
        )
    return explanation
