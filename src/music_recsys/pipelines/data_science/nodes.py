"""Nodes of the data_science pipeline: each candidate's fit and evaluation (whatever its kind:
the kind's contract says what it reads), the test split scored once, and the run's figures for
the reports and MLflow."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import pandas as pd

from music_recsys.core.evaluation import Answers, evaluate, summarise
from music_recsys.core.protocol import LAST_TRACK, EvaluationParams
from music_recsys.core.queries import last_track
from music_recsys.core.ranking import Recommender
from music_recsys.kinds import FitInputs, Kind, kind
from music_recsys.tuning.study import changes_text


def for_candidate(func: Callable, candidate_kind: Kind, name: str) -> Callable:
    """``func`` with its candidate's kind and name fixed, keeping its name and docstring (for
    node names and kedro-viz), its ``settings`` typed as the kind's settings: Kedro validates a
    ``params:`` input against its type hint before any node runs. (Kedro pairs a node's inputs
    with the function's parameters by position, so the data parameters come first, in the
    order of the node's inputs, and the fixed ones last.)"""
    fixed = functools.update_wrapper(
        functools.partial(func, kind_name=candidate_kind.name, name=name), func
    )
    fixed.__annotations__ = dict(func.__annotations__) | {"settings": candidate_kind.settings}
    return fixed


def as_settings(kind_name: str, settings):
    """The kind's settings: from conf (validated by Kedro already) or from tuning (a dict)."""
    return kind(kind_name).settings(**settings) if isinstance(settings, dict) else settings


def train_shared(
    playlists_train,
    track_index: pd.DataFrame,
    track_order_report: dict,
    evaluation_protocol: dict,
    settings,
    kind_name: str = "",
    name: str = "",
):
    """The first stage the candidates of a kind share (its ``shared_training``): word2vec's
    vectors, trained once for the variants that differ only in scoring."""
    inputs = FitInputs(
        playlists_train,
        track_index,
        track_order_report,
        name=name,
        protocol=evaluation_protocol["protocol"],
    )
    return kind(kind_name).shared_training.train(inputs, as_settings(kind_name, settings))


def fit_candidate(
    playlists_train,
    track_index: pd.DataFrame,
    track_order_report: dict,
    evaluation_protocol: dict,
    settings,
    validation_queries: pd.DataFrame | None = None,
    evaluation: EvaluationParams | None = None,
    trained=None,
    kind_name: str = "",
    name: str = "",
    **components: Recommender,
):
    """One candidate's fit (:class:`~music_recsys.kinds.contract.Kind` ``fit``), given what
    its kind declares it reads: the validation queries, a shared training's output, the fitted
    candidates it is built from.

    Returns:
        The recommender (named after its candidate) and its training statistics, and for a
        kind that ``reads_validation`` its own answers on the validation queries.
    """
    candidate_kind = kind(kind_name)
    inputs = FitInputs(
        playlists_train,
        track_index,
        track_order_report,
        name=name,
        validation_queries=validation_queries,
        evaluation=evaluation,
        components=components,
        trained=trained,
        protocol=evaluation_protocol["protocol"],
    )
    fitted = candidate_kind.fit(inputs, as_settings(kind_name, settings))
    fitted.recommender.name = name
    if candidate_kind.reads_validation:
        return fitted.recommender, fitted.stats, fitted.validation
    return fitted.recommender, fitted.stats


def evaluate_candidate(
    recommender: Recommender,
    validation_queries: pd.DataFrame,
    evaluation: EvaluationParams,
    validation_answers: Answers | None = None,
    name: str = "",
) -> tuple[dict, pd.DataFrame]:
    """A candidate's validation figures (:func:`~music_recsys.core.evaluation.evaluate`), or,
    for a kind that answered the validation queries itself (the blend's cross-fitted answers),
    the same figures from those answers."""
    if validation_answers is not None:
        return summarise(
            recommender,
            validation_answers.ranked,
            validation_queries,
            evaluation,
            validation_answers.seconds,
            name=name,
        )
    return evaluate(recommender, validation_queries, evaluation, name=name)


def evaluate_on_test(
    selection: dict,
    test_queries: pd.DataFrame,
    evaluation: EvaluationParams,
    protocol: dict,
    baselines: tuple[str, ...] = (),
    **recommenders: Callable[[], Recommender],
) -> tuple[Recommender, dict, dict]:
    """Scores the test split once: the selected candidate and every baseline — asked as the
    protocol asks, and under ``next_track`` (with ``evaluation.last_track_figures``) also asked
    with the last track alone, the other question clients ask.

    Args:
        selection: From :func:`select_candidate`.
        test_queries: The test split's queries.
        evaluation: How to evaluate.
        protocol: From :func:`choose_protocol`.
        baselines: The baseline candidates.
        **recommenders: A loader per candidate (``<candidate>.recommender@loader``): only the
            selected candidate and the baselines are loaded, one at a time.

    Returns:
        The selected recommender (named after its candidate), test metrics per candidate, and
        the same asked with the last track (empty where not computed).
    """
    chosen = selection["selected"]
    evaluated = [chosen] + [n for n in baselines if n in recommenders and n != chosen]
    also_last = protocol["protocol"] == "next_track" and evaluation.last_track_figures
    last_queries = last_track(test_queries) if also_last else None
    results, last = {}, {}
    for name in evaluated:
        model = recommenders[name]()
        model.name = name
        results[name], _ = evaluate(model, test_queries, evaluation)
        if last_queries is not None:
            last[name], _ = evaluate(model, last_queries, evaluation, name=f"{name} (last track)")
        if name == chosen:
            selected = model
        del model
    return selected, results, last


def by_candidate(candidate_metrics: dict) -> dict[str, dict[str, dict]]:
    """``{"<candidate>__<stage>": values}`` → ``{candidate: {stage: values}}``."""
    grouped: dict[str, dict[str, dict]] = {}
    for key, values in candidate_metrics.items():
        candidate, stage = key.rsplit("__", 1)
        grouped.setdefault(candidate, {})[stage] = values
    return grouped


def build_results_table(
    selection: dict,
    test_metrics: dict,
    test_metrics_last_track: dict,
    protocol: dict,
    kinds: dict[str, dict],
    **candidate_metrics: dict,
) -> pd.DataFrame:
    """One row per candidate and split: every metric and what it cost, which was selected.

    Args:
        selection: From :func:`select_candidate`.
        test_metrics: From :func:`evaluate_on_test`.
        test_metrics_last_track: From :func:`evaluate_on_test`: the split ``test_last_track``.
        protocol: From :func:`choose_protocol`.
        kinds: Per candidate, its ``kind`` and ``baseline`` flag.
        **candidate_metrics: ``<candidate>__validation``, ``<candidate>__training`` and, for a
            tuned candidate, ``<candidate>__tuning`` dicts.

    Returns:
        ``candidate``, ``kind``, ``baseline``, ``selected``, ``eligible``, ``protocol``,
        ``asked_with`` (the query, in words), ``split`` (``validation``, ``test`` and, under
        next_track, ``test_last_track``), ``fit_seconds`` (the training the candidate's model
        took, shared or not), ``fit_shared_with``, word2vec's ``epochs_configured``,
        ``epochs_within_word_budget`` (fewer where ``max_training_words`` cuts them) and
        ``epochs_trained`` (fewer again where the ``max_training_seconds`` guard stopped it),
        ``tuned``, ``tuning_trials``, ``tuning_seconds``, ``notes`` (order handling, a blend's
        weights, why it sat out), ``evaluation_seconds`` and every metric with its standard
        error.
    """
    grouped = by_candidate(candidate_metrics)
    asked = protocol.get("query", protocol["protocol"])
    rows = []
    for name, stages in grouped.items():
        training = stages.get("training", {})
        cost = {
            "fit_seconds": training.get("fit_seconds", math.nan),
            "fit_shared_with": training.get("training_shared_with", "")
            or training.get("fit_shared_with", ""),
            "epochs_configured": training.get("epochs_configured", math.nan),
            "epochs_within_word_budget": training.get("epochs_within_word_budget", math.nan),
            "epochs_trained": training.get("epochs_trained", math.nan),
        }
        tuning = stages.get("tuning", {})
        cost["tuned"] = bool(tuning.get("tuned", False))
        cost["tuning_trials"] = tuning.get("trials", 0)
        cost["tuning_seconds"] = tuning.get("seconds", 0.0)
        cost["notes"] = _notes(name, training, selection, tuning)
        answers = [("validation", asked, stages["validation"])]
        if name in test_metrics:
            answers.append(("test", asked, test_metrics[name]))
        if name in test_metrics_last_track:
            answers.append(("test_last_track", LAST_TRACK, test_metrics_last_track[name]))
        rows += [
            {"candidate": name, "split": split, "asked_with": query} | cost | metrics
            for split, query, metrics in answers
        ]
    table = pd.DataFrame(rows)
    table.insert(1, "kind", table["candidate"].map(lambda c: kinds[c]["kind"]))
    table.insert(2, "baseline", table["candidate"].map(lambda c: bool(kinds[c]["baseline"])))
    table.insert(3, "selected", table["candidate"] == selection["selected"])
    table.insert(4, "eligible", ~table["candidate"].isin(list(selection.get("left_out", {}))))
    table.insert(5, "protocol", protocol["protocol"])
    table.insert(6, "asked_with", table.pop("asked_with"))
    metric = selection["metric"]
    split_order = table["split"].map({"validation": 0, "test": 1, "test_last_track": 2})
    return (
        table.assign(_split=split_order)
        .sort_values(["_split", metric], ascending=[True, False])
        .drop(columns="_split")
        .reset_index(drop=True)
    )


def _notes(name: str, training: dict, selection: dict, tuning: dict | None = None) -> str:
    """What a reader of the results should know of a candidate beyond its figures."""
    notes = []
    if tuning and tuning.get("tuned"):
        notes.append(f"tuned: {changes_text(tuning['changed'])}")
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


def collect_mlflow_metrics(
    selection: dict, test_metrics: dict, test_metrics_last_track: dict, **candidate_metrics: dict
) -> dict:
    """Every figure of the run as MLflow metrics, named so the UI lines candidates up.

    Args:
        selection: From :func:`select_candidate`.
        test_metrics: From :func:`evaluate_on_test`.
        test_metrics_last_track: From :func:`evaluate_on_test` (asked with the last track).
        **candidate_metrics: ``<candidate>__validation`` and ``<candidate>__training`` dicts.

    Returns:
        ``{name: [{"value", "step"}]}`` with names ``<candidate>.validation.<metric>``,
        ``<candidate>.training.<statistic>`` (a blend's weights as ``weight.<component>``),
        ``<candidate>.test.<metric>``, ``selected.test.<metric>``, the last-track figures as
        ``<candidate>.test_last_track.<metric>`` and ``selected.test_last_track.<metric>``, and
        ``<candidate>.validation.eligible`` (0 when it sat out; NaNs and non-numbers left out).
        Which protocol produced them is the run's ``evaluation.protocol`` tag.
    """
    flat: dict[str, float] = {}
    for candidate, stages in by_candidate(candidate_metrics).items():
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
    for candidate, values in test_metrics_last_track.items():
        flat |= {f"{candidate}.test_last_track.{name}": value for name, value in values.items()}
        if candidate == selection["selected"]:
            flat |= {f"selected.test_last_track.{name}": value for name, value in values.items()}
    flat[f"selected.validation.{selection['metric']}"] = selection["value"]
    flat[f"selected.validation.{selection['metric']}_se"] = selection["standard_error"]
    return {
        name: [{"value": float(value), "step": 0}]
        for name, value in flat.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    }
