"""Nodes of the data_science pipeline beyond the core's own functions: the test split scored
once, and the run's figures for the reports and MLflow."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.ranking import Recommender


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
