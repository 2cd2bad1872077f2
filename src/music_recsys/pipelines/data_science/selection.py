"""Selection on validation, the test split scored once, and the run's figures for reports.

The selection rule: among the candidates that may compete (those that read the play order sit
out when the rows are sorted by title), the simplest candidate that no other beats on the
validation metric by more than one paired standard error — the error of the mean per-query
difference between the two on the same queries. The best candidate always qualifies, so the
rule only ever trades a lead within noise for simplicity, and the explanation says which rule
decided.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from music_recsys.kinds.base import Recommender

from . import metrics as m
from .evaluation import evaluate
from .params import EvaluationParams

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
    name, k = m.parse_metric(metric)
    scores = {c.rsplit("__", 1)[0]: v for c, v in validation.items() if c.endswith("__metrics")}
    ranks = {c.rsplit("__", 1)[0]: v for c, v in validation.items() if c.endswith("__ranks")}
    if all(math.isnan(values[metric]) for values in scores.values()):
        raise ValueError(
            f"No candidate has a validation {metric}: the validation split has no playlist with "
            "two tracks or more. Use more data, or a larger split.validation share."
        )
    in_order = bool(track_order_report.get("next_track_is_meaningful", True))
    left_out = {
        c: "reads the play order, and the rows are sorted by title"
        for c in scores
        if kinds[c]["needs_play_order"] and not in_order
    }
    for c, reason in left_out.items():
        logger.info("Selection: %s sits out (%s)", c, reason)
    eligible = [c for c in scores if c not in left_out and not math.isnan(scores[c][metric])]
    value = {c: scores[c][metric] for c in eligible}
    best = min(eligible, key=lambda c: (-value[c], kinds[c]["simplicity"], c))
    simplest_first = sorted(eligible, key=lambda c: (kinds[c]["simplicity"], -value[c], c))

    def beaten_by(c: str) -> list[str]:
        return [
            d
            for d in eligible
            if d != c
            and value[d] - value[c] > np.nan_to_num(_paired_se(ranks[d], ranks[c], name, k))
        ]

    chosen = next(c for c in simplest_first if not beaten_by(c))
    se = {c: scores[c].get(f"{metric}_se", math.nan) for c in scores}
    paired = {c: _paired_se(ranks[c], ranks[chosen], name, k) for c in eligible if c != chosen}
    if chosen == best:
        rule = "best on validation"
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
        rule = "simpler within one paired SE"
        explanation = (
            f"'{best}' scores best on validation {metric} ({value[best]:.4f}), but leads the "
            f"simpler '{chosen}' ({value[chosen]:.4f}) by {value[best] - value[chosen]:.4f}, "
            f"within one paired standard error ({paired[best]:.4f}): '{chosen}' is selected."
        )
    if left_out:
        explanation += (
            f" Sat out: {', '.join(left_out)} (reads the play order; rows sorted by title)."
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


def evaluate_on_test(
    selection: dict,
    test_queries: pd.DataFrame,
    evaluation: EvaluationParams,
    baselines: tuple[str, ...] = (),
    **recommenders: Callable[[], Recommender],
) -> tuple[Recommender, dict]:
    """Scores the test split once: the selected candidate and every baseline.

    Args:
        selection: From :func:`select_candidate`.
        test_queries: The test split's queries.
        evaluation: How to evaluate.
        baselines: The baseline candidates.
        **recommenders: A loader per candidate (``<candidate>.recommender@loader``): only the
            selected candidate and the baselines are loaded, one at a time.

    Returns:
        The selected recommender (named after its candidate) and test metrics per candidate.
    """
    chosen = selection["selected"]
    evaluated = [chosen] + [n for n in baselines if n in recommenders and n != chosen]
    results = {}
    for name in evaluated:
        model = recommenders[name]()
        model.name = name
        results[name], _ = evaluate(model, test_queries, evaluation)
        if name == chosen:
            selected = model
        del model
    return selected, results


def _by_candidate(candidate_metrics: dict) -> dict[str, dict[str, dict]]:
    """``{"<candidate>__<stage>": values}`` → ``{candidate: {stage: values}}``."""
    grouped: dict[str, dict[str, dict]] = {}
    for key, values in candidate_metrics.items():
        candidate, stage = key.rsplit("__", 1)
        grouped.setdefault(candidate, {})[stage] = values
    return grouped


def build_results_table(
    selection: dict,
    test_metrics: dict,
    protocol: dict,
    kinds: dict[str, dict],
    **candidate_metrics: dict,
) -> pd.DataFrame:
    """One row per candidate and split: every metric and what it cost, which was selected.

    Args:
        selection: From :func:`select_candidate`.
        test_metrics: From :func:`evaluate_on_test`.
        protocol: From :func:`choose_protocol`.
        kinds: Per candidate, its ``kind`` and ``baseline`` flag.
        **candidate_metrics: ``<candidate>__validation`` and ``<candidate>__training`` dicts.

    Returns:
        ``candidate``, ``kind``, ``baseline``, ``selected``, ``eligible``, ``protocol``,
        ``split``, ``fit_seconds`` (the training the candidate's model took, shared or not),
        ``fit_shared_with``, word2vec's ``epochs_configured`` and ``epochs_trained`` (fewer when
        its time budget ran out), ``notes`` (order handling, a blend's weights, why it sat
        out), ``evaluation_seconds`` and every metric with its standard error.
    """
    grouped = _by_candidate(candidate_metrics)
    rows = []
    for name, stages in grouped.items():
        training = stages.get("training", {})
        cost = {
            "fit_seconds": training.get("fit_seconds", math.nan),
            "fit_shared_with": training.get("training_shared_with", "")
            or training.get("fit_shared_with", ""),
            "epochs_configured": training.get("epochs_configured", math.nan),
            "epochs_trained": training.get("epochs_trained", math.nan),
        }
        cost["notes"] = _notes(name, training, selection)
        rows.append({"candidate": name, "split": "validation", **cost, **stages["validation"]})
        if name in test_metrics:
            rows.append({"candidate": name, "split": "test", **cost, **test_metrics[name]})
    table = pd.DataFrame(rows)
    table.insert(1, "kind", table["candidate"].map(lambda c: kinds[c]["kind"]))
    table.insert(2, "baseline", table["candidate"].map(lambda c: bool(kinds[c]["baseline"])))
    table.insert(3, "selected", table["candidate"] == selection["selected"])
    table.insert(4, "eligible", ~table["candidate"].isin(list(selection.get("left_out", {}))))
    table.insert(5, "protocol", protocol["protocol"])
    metric = selection["metric"]
    return table.sort_values(["split", metric], ascending=[False, False], ignore_index=True)


def _notes(name: str, training: dict, selection: dict) -> str:
    """What a reader of the results should know of a candidate beyond its figures."""
    notes = []
    if name in selection.get("left_out", {}):
        notes.append(f"sat out of the selection: {selection['left_out'][name]}")
    if training.get("order"):
        notes.append(training["order"])
    if training.get("weights"):
        weights = ", ".join(f"{c} {w:.2f}" for c, w in training["weights"].items())
        notes.append(f"weights: {weights} (fit_seconds: the weight search)")
    if training.get("folds"):
        notes.append(
            f"validation cross-fitted over {training['folds']} folds (the weights tuned on all "
            f"its queries score {training['tuned_validation_value']:.4f} there)"
        )
    if training.get("left_out"):
        notes.append(f"components left out: {', '.join(training['left_out'])}")
    return "; ".join(notes)


def collect_mlflow_metrics(selection: dict, test_metrics: dict, **candidate_metrics: dict) -> dict:
    """Every figure of the run as MLflow metrics, named so the UI lines candidates up.

    Args:
        selection: From :func:`select_candidate`.
        test_metrics: From :func:`evaluate_on_test`.
        **candidate_metrics: ``<candidate>__validation`` and ``<candidate>__training`` dicts.

    Returns:
        ``{name: [{"value", "step"}]}`` with names ``<candidate>.validation.<metric>``,
        ``<candidate>.training.<statistic>`` (a blend's weights as ``weight.<component>``),
        ``<candidate>.test.<metric>``, ``selected.test.<metric>`` and
        ``<candidate>.validation.eligible`` (0 when it sat out; NaNs and non-numbers left out).
    """
    flat: dict[str, float] = {}
    for candidate, stages in _by_candidate(candidate_metrics).items():
        for stage, values in stages.items():
            flat |= {f"{candidate}.{stage}.{name}": value for name, value in values.items()}
            for component, weight in values.get("weights", {}).items():
                flat[f"{candidate}.{stage}.weight.{component}"] = weight
        flat[f"{candidate}.validation.eligible"] = float(
            candidate not in selection.get("left_out", {})
        )
    for candidate, values in test_metrics.items():
        flat |= {f"{candidate}.test.{name}": value for name, value in values.items()}
    flat |= {
        f"selected.test.{name}": value
        for name, value in test_metrics[selection["selected"]].items()
    }
    flat[f"selected.validation.{selection['metric']}"] = selection["value"]
    flat[f"selected.validation.{selection['metric']}_se"] = selection["standard_error"]
    return {
        name: [{"value": float(value), "step": 0}]
        for name, value in flat.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    }
