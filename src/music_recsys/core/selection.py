"""The selection rule: which candidate ships, decided on validation only.

The rule: among the candidates that may compete (those that read the play order sit
out when the rows are sorted by title), the simplest candidate that no other beats on the
validation metric by more than one paired standard error — the error of the mean per-query
difference between the two on the same queries. The best candidate always qualifies, so the
rule only ever trades a lead within noise for simplicity, and the explanation says which rule
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


def _paired_se(a: pd.DataFrame, b: pd.DataFrame, metric: str, k: int) -> float:
    """Standard error of the mean per-query difference of ``metric`` at ``k`` (same queries)."""
    joined = a.merge(b, on="playlist_id", suffixes=("_a", "_b"))
    joined = joined[joined["counted_a"] & joined["counted_b"]]
    difference = m.per_query(joined["rank_a"].to_numpy(), metric, k) - m.per_query(
        joined["rank_b"].to_numpy(), metric, k
    )
    return m.standard_error(difference)


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
    best, chosen = _apply_rule(eligible, value, ranks, kinds, metric)
    se = {c: scores[c].get(f"{metric}_se", math.nan) for c in scores}
    paired = {
        c: _paired_se(ranks[c], ranks[chosen], *m.parse_metric(metric))
        for c in eligible
        if c != chosen
    }
    rule = "best on validation" if chosen == best else "simpler within one paired SE"
    explanation = _explain(best, chosen, eligible, value, se, paired, metric, left_out)
    logger.info("Selection: %s", explanation)
    ranking = sorted(scores, key=lambda c: -np.nan_to_num(scores[c][metric], nan=-np.inf))
    return {
        "selected": chosen,
        "is_baseline": bool(kinds[chosen]["baseline"]),
        "metric": metric,
        "value": value[chosen],
        "standard_error": se[chosen],
        "rule": rule,
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


def _apply_rule(
    eligible: list[str], value: dict, ranks: dict, kinds: dict, metric: str
) -> tuple[str, str]:
    """``(best, chosen)``: the best on validation (ties: the simpler, then by name), and the
    simplest candidate that no other beats by more than one paired standard error."""
    name, k = m.parse_metric(metric)
    best = min(eligible, key=lambda c: (-value[c], kinds[c]["simplicity"], c))
    simplest_first = sorted(eligible, key=lambda c: (kinds[c]["simplicity"], -value[c], c))

    def beaten(c: str) -> bool:
        return any(
            value[d] - value[c] > np.nan_to_num(_paired_se(ranks[d], ranks[c], name, k))
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
            explanation += ", and every simpler candidate trails it by more than one paired SE"
        explanation += "."
    else:
        explanation = (
            f"'{best}' scores best on validation {metric} ({value[best]:.4f}), but leads the "
            f"simpler '{chosen}' ({value[chosen]:.4f}) by {value[best] - value[chosen]:.4f}, "
            f"within one paired standard error ({paired[best]:.4f}): '{chosen}' is selected."
        )
    if left_out:
        explanation += (
            f" Sat out: {', '.join(left_out)} (reads the play order; rows sorted by title)."
        )
    return explanation
