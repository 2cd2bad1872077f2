"""Nodes of each candidate's tuning (see :mod:`music_recsys.tuning`): its screening, the run's
plan of where the trials go, the study, its plots, the settings a candidate that shares
another's training adopts, the conf's setting on validation (for the report), and the run's
tuning table."""

from __future__ import annotations

import math
import time

import pandas as pd

from music_recsys.core import metrics as m
from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.selection import paired_differences
from music_recsys.kinds import FitInputs, kind
from music_recsys.pipelines.data_science.nodes import as_settings, by_candidate
from music_recsys.tables import first_row, sql
from music_recsys.tuning.params import TuningParams
from music_recsys.tuning.plan import plan_trials
from music_recsys.tuning.plots import plot_tuning
from music_recsys.tuning.study import changes_text, screen, tune


def _tuning_group(
    playlists_tuning,
    tuning_track_index: pd.DataFrame,
    track_order_report: dict,
    evaluation_protocol: dict,
    settings,
    kind_name: str,
    name: str,
    sharing: dict,
):
    group = {name: settings} | {
        member: as_settings(kind_name, values) for member, values in sharing.items()
    }
    inputs = FitInputs(
        playlists_tuning,
        tuning_track_index,
        track_order_report,
        name=name,
        protocol=evaluation_protocol["protocol"],
    )
    return group, inputs


def screen_candidate(
    playlists_tuning,
    tuning_track_index: pd.DataFrame,
    track_order_report: dict,
    evaluation_protocol: dict,
    tuning_queries: pd.DataFrame,
    split_summary: dict,
    evaluation: EvaluationParams,
    tuning: TuningParams,
    settings,
    kind_name: str = "",
    name: str = "",
    **sharing,
) -> dict:
    """The candidate at its conf's setting on the tuning rows and queries
    (:func:`music_recsys.tuning.study.screen`): its study's first trial, and what the run's
    tuning plan compares.

    Args:
        sharing: The settings of the candidates that share its first stage (``<name>``),
            screened with it as one.
    """
    group, inputs = _tuning_group(
        playlists_tuning,
        tuning_track_index,
        track_order_report,
        evaluation_protocol,
        settings,
        kind_name,
        name,
        sharing,
    )
    return screen(
        kind(kind_name),
        group,
        inputs,
        tuning_queries,
        evaluation,
        tuning,
        split_summary["train"]["rows"],
    )


def plan_tuning(playlists_tuning, tuning: TuningParams, **screens: dict) -> dict:
    """The run's tuning plan: trials for the candidates whose screening could win
    (:func:`music_recsys.tuning.plan.plan_trials`; ``screens``: ``<candidate>`` → its
    screening)."""
    (rows,) = first_row(sql("SELECT count(*) FROM {rows}", rows=playlists_tuning))
    return plan_trials(tuning, int(rows), screens)


def tune_candidate(
    playlists_tuning,
    tuning_track_index: pd.DataFrame,
    track_order_report: dict,
    evaluation_protocol: dict,
    tuning_queries: pd.DataFrame,
    split_summary: dict,
    tuning_screen: dict,
    tuning_plan: dict,
    evaluation: EvaluationParams,
    tuning: TuningParams,
    settings,
    kind_name: str = "",
    name: str = "",
    **sharing,
) -> tuple[dict, pd.DataFrame, dict]:
    """One candidate's tuning study (:func:`music_recsys.tuning.study.tune`) on the tuning
    rows and queries, for the trials the run's plan gives it after its screening.

    Args:
        sharing: The settings of the candidates that share its first stage (``<name>``),
            tuned with it as one.

    Returns:
        The settings it ships with (tuned, or the conf's), every trial, and a summary (with
        its screening and the plan's reason).
    """
    group, inputs = _tuning_group(
        playlists_tuning,
        tuning_track_index,
        track_order_report,
        evaluation_protocol,
        settings,
        kind_name,
        name,
        sharing,
    )
    planned = tuning_plan["candidates"].get(name, {"trials": 0, "why": "not in the plan"})
    screened = tuning_screen if tuning_screen.get("screened") else None
    tuned = tune(
        kind(kind_name),
        group,
        inputs,
        tuning_queries,
        evaluation,
        tuning,
        planned["trials"],
        screened,
        split_summary["train"]["rows"],
    )
    summary = tuned.summary | {
        "plan": planned["why"],
        "screen_value": planned.get("screen_value", math.nan),
        "screen_gap": planned.get("gap", math.nan),
        "screen_paired_se": planned.get("paired_se", math.nan),
        "screen_seconds": (tuning_screen or {}).get("seconds", 0.0),
    }
    return tuned.settings, tuned.trials, summary


def plot_candidate_tuning(
    tuning_trials: pd.DataFrame, tuning_summary: dict, kind_name: str = "", name: str = ""
):
    """Optuna's optimisation history and parameter importances of the candidate's trials (or,
    with none, a figure that says why: the study's decision)."""
    screened_only = tuning_summary.get("trials", 0) == 1 and tuning_summary.get("plan")
    why = tuning_summary["plan"] if screened_only else tuning_summary.get("decision", "")
    return plot_tuning(tuning_trials, kind(kind_name).search_space, name, why)


def adopt_tuned_settings(settings, leader_settings: dict, kind_name: str = "", name: str = ""):
    """The settings of a candidate that shares another's first stage: its own, with the values
    tuning chose for the shared training (so that the two still share it)."""
    candidate_kind = kind(kind_name)
    adopted = settings.model_dump() | {p: leader_settings[p] for p in candidate_kind.search_space}
    return candidate_kind.settings(**adopted).model_dump(mode="json")


def evaluate_declared(
    playlists_train,
    track_index: pd.DataFrame,
    track_order_report: dict,
    evaluation_protocol: dict,
    validation_queries: pd.DataFrame,
    validation_ranks: pd.DataFrame,
    evaluation: EvaluationParams,
    tuning: TuningParams,
    settings,
    tuned_settings: dict,
    kind_name: str = "",
    name: str = "",
    shares_training: bool = False,
) -> dict:
    """The conf's setting on validation, beside the tuned one, for the report: fitted and
    scored only when tuning changed the setting (and ``tuning.default_on_validation``), and
    not for a training other candidates share (``shares_training``).

    Returns:
        ``{"compared": False, "why": ...}``, or the conf's value and standard error and the
        paired standard error of the tuned setting's lead over it, on the same queries.
    """
    candidate_kind = kind(kind_name)
    if candidate_kind.settings(**tuned_settings) == settings:
        return {"compared": False, "why": "tuning kept the conf's setting"}
    if not tuning.default_on_validation:
        return {"compared": False, "why": "tuning.default_on_validation is false"}
    if shares_training:
        # A training other candidates share (word2vec's skip-gram, the run's costliest): a
        # second one only to report would double it (the confirm queries compare the two).
        return {"compared": False, "why": "a shared training is not repeated to report"}
    started = time.perf_counter()
    inputs = FitInputs(
        playlists_train,
        track_index,
        track_order_report,
        name=name,
        protocol=evaluation_protocol["protocol"],
    )
    model = candidate_kind.fit(inputs, settings).recommender
    metrics, ranks = evaluate(model, validation_queries, evaluation, name=f"{name} (conf)")
    metric = evaluation.selection_metric
    difference = paired_differences(validation_ranks, ranks, *m.parse_metric(metric))
    return {
        "compared": True,
        "value": metrics[metric],
        "standard_error": metrics[f"{metric}_se"],
        "lead_of_tuned": float(difference.mean()) if len(difference) else math.nan,
        "paired_se": m.standard_error(difference),
        "seconds": time.perf_counter() - started,
    }


def build_tuning_table(evaluation: EvaluationParams, **stages: dict) -> pd.DataFrame:
    """One row per tuned candidate: what was searched and spent, the conf's and the tuned
    setting's figure on the tuning queries and on validation, and the decision.

    Args:
        stages: ``<candidate>__tuning`` (the study's summary), ``<candidate>__declared``
            (:func:`evaluate_declared`) and ``<candidate>__validation`` (its metrics).
    """
    metric = evaluation.selection_metric
    grouped = by_candidate(stages)
    rows = []
    for candidate, found in sorted(grouped.items()):
        summary, declared = found.get("tuning", {}), found.get("declared", {})
        validation = found.get("validation", {})
        tuned = bool(summary.get("tuned"))
        rows.append(
            {
                "candidate": candidate,
                "searched": ", ".join(summary.get("searched", [])),
                "screen_value": summary.get("screen_value", math.nan),
                "screen_gap": summary.get("screen_gap", math.nan),
                "screen_paired_se": summary.get("screen_paired_se", math.nan),
                "plan": summary.get("plan", ""),
                "trials_planned": summary.get("trials_planned", 0),
                "trials": summary.get("trials", 0),
                "complete": summary.get("complete", 0),
                "pruned": summary.get("pruned", 0),
                "failed": summary.get("failed", 0),
                "tuning_seconds": summary.get("seconds", 0.0),
                "cut_by_guard": bool(summary.get("cut_by_guard", False)),
                "fit_playlists": summary.get("fit_playlists", math.nan),
                "tuning_queries": summary.get("queries", math.nan),
                "conf_tuning_value": summary.get("default_value", math.nan),
                "conf_tuning_se": summary.get("default_se", math.nan),
                "best_tuning_value": summary.get("best_value", math.nan),
                "best_tuning_se": summary.get("best_se", math.nan),
                "conf_confirm_value": summary.get("confirm_default_value", math.nan),
                "best_confirm_value": summary.get("confirm_best_value", math.nan),
                "confirm_paired_se": summary.get("paired_se", math.nan),
                "tuned": tuned,
                "changed": changes_text(summary.get("changed", {})),
                f"validation_{metric}": validation.get(metric, math.nan),
                f"validation_{metric}_se": validation.get(f"{metric}_se", math.nan),
                f"conf_validation_{metric}": declared.get(
                    "value", validation.get(metric, math.nan) if not tuned else math.nan
                ),
                f"conf_validation_{metric}_se": declared.get(
                    "standard_error",
                    validation.get(f"{metric}_se", math.nan) if not tuned else math.nan,
                ),
                "validation_paired_se": declared.get("paired_se", math.nan),
                "decision": summary.get("decision", ""),
            }
        )
    return pd.DataFrame(rows)
