"""One candidate's tuning: an Optuna study over its kind's search space, within a budget.

- The conf's settings are the first trial (``enqueue_trial``), so the study starts from what
  ships today and the report can say what tuning moved.
- TPE proposes the next settings (seeded); a trial fits on the tuning rows and ranks the whole
  catalog for the tuning queries (:mod:`.data`). Pruning: a trial is first scored on a quarter
  of the queries, and stopped there when it trails the median of earlier trials at that point.
- The budget is wall-clock (``timeout``): no trial starts after it, nor once the slowest trial
  so far would not fit in the time left, nor after ``patience`` trials without a better one;
  a kind whose settings carry a training time budget (``max_training_seconds``) has it cut to
  the time left.
- Candidates that share a first stage (word2vec variants that differ only in scoring) are tuned
  as one: a trial trains once and scores every variant; its value is the best of them.
- Trials are scored on half the tuning queries (every other one: "search"); a complete trial
  also on the other half ("confirm"). The best trial on the search queries ships only when it
  beats the conf's on the confirm queries by more than ``min_lead_se`` paired standard errors
  (the best of many trials on the queries that chose it is flattered; a fresh half is not);
  otherwise the conf's stays, and the summary says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd
from pydantic import ValidationError

from music_recsys.core import metrics as m
from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import EvaluationParams
from music_recsys.kinds import FitInputs, Kind, Settings
from music_recsys.kinds.search_space import Choice, Dimension, FloatRange, IntRange
from music_recsys.tables import first_row, sql
from music_recsys.tuning.params import TuningParams

logger = logging.getLogger(__name__)

BUDGET_SETTING = "max_training_seconds"
PRUNE_SHARE = 0.25  # of the tuning queries, scored before a trial may be pruned


def distribution(dim: Dimension) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of a declared dimension."""
    if isinstance(dim, IntRange):
        return optuna.distributions.IntDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, FloatRange):
        return optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        return optuna.distributions.CategoricalDistribution(dim.values)
    raise TypeError(f"Unknown search dimension {dim!r}")


@dataclasses.dataclass
class Tuned:
    """A tuning's outcome: the settings that ship, every trial, and a summary for reports."""

    settings: dict
    trials: pd.DataFrame
    summary: dict


def tune(
    kind: Kind,
    group: Mapping[str, Settings],
    inputs: FitInputs,
    queries: pd.DataFrame,
    evaluation: EvaluationParams,
    tuning: TuningParams,
    seconds: float,
) -> Tuned:
    """Tunes the candidate ``inputs.name`` (with the candidates in ``group`` that share its
    first stage, itself included) on ``queries``; see the module doc."""
    name = inputs.name
    declared = group[name]
    space = dict(kind.search_space)
    metric, k = m.parse_metric(evaluation.selection_metric)
    base = {
        "metric": evaluation.selection_metric,
        "budget_seconds": round(seconds, 1),
        "queries": int(len(queries)),
        "searched": sorted(space),
    }
    why = None
    if not space:
        why = "its kind declares no search space"
    elif not tuning.enabled:
        why = "tuning is disabled (tuning.enabled)"
    elif kind.needs_play_order and not inputs.in_play_order:
        why = "it reads the play order, and the rows are sorted by title (it sits out)"
    if why:
        return Tuned(declared.model_dump(mode="json"), _trials_frame([], space), base | _none(why))
    objective = _Objective(kind, group, inputs, queries, evaluation, tuning, metric, k)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line a trial is logged instead
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=tuning.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5)
        if tuning.pruning
        else optuna.pruners.NopPruner(),
    )
    values = declared.model_dump()
    study.enqueue_trial({p: values[p] for p in space}, skip_if_exists=True)
    objective.deadline = time.monotonic() + seconds
    started = time.perf_counter()
    study.optimize(
        objective,
        n_trials=tuning.max_trials,
        timeout=seconds,
        catch=(Exception,),
        callbacks=[_progress(name, seconds, tuning.patience)],
    )
    elapsed = time.perf_counter() - started
    if objective.first_error is not None:
        raise objective.first_error  # the conf's own setting fails: the fit would too
    trials = _trials_frame(study.trials, space)
    decided, chosen = _decide(study, objective, declared, space, tuning)
    summary = (
        base
        | decided
        | {
            "trials": len(study.trials),
            "complete": int((trials["state"] == "COMPLETE").sum()),
            "pruned": int((trials["state"] == "PRUNED").sum()),
            "failed": int((trials["state"] == "FAIL").sum()),
            "seconds": round(elapsed, 1),
            "fit_playlists": int(objective.fit_playlists),
        }
    )
    logger.info("Tuning %s: %s", name, summary["decision"])
    return Tuned(kind.settings(**chosen).model_dump(mode="json"), trials, summary)


class _Objective:
    """One trial: settings from the space, a fit on the tuning rows, the tuning queries ranked."""

    def __init__(self, kind, group, inputs, queries, evaluation, tuning, metric, k):
        self.kind, self.group, self.inputs = kind, dict(group), inputs
        self.queries, self.evaluation, self.tuning = queries, evaluation, tuning
        self.metric, self.k = metric, k
        # Trials are scored on every other tuning query ("search"); a complete trial is also
        # scored on the others ("confirm"), which decide whether the best trial ships: the
        # search's maximum over many trials is biased upwards, a fresh half is not.
        self.search, self.confirm = queries.iloc[0::2], queries.iloc[1::2]
        self.values: dict[int, np.ndarray] = {}  # trial → per-query values on "search"
        self.confirmed: dict[int, np.ndarray] = {}  # trial → per-query values on "confirm"
        self.deadline = math.inf
        self.fit_playlists = 0
        self.first_error: Exception | None = None  # the conf's own setting failed

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            with _quiet("music_recsys.kinds", "music_recsys.core", "implicit", "gensim"):
                return self._trial(trial)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            trial.set_user_attr("why", f"{type(error).__name__}: {error}"[:300])
            if trial.number == 0:
                self.first_error = error
            raise

    def _trial(self, trial: optuna.Trial) -> float:
        space = self.kind.search_space
        chosen = {p: suggest(trial, p, dim) for p, dim in space.items()}
        # One cut of a training budget for every member, so that they still share a training.
        left = max(1.0, self.deadline - time.monotonic())
        try:
            members = {n: self._with(s, chosen, left) for n, s in self.group.items()}
        except ValidationError as error:
            trial.set_user_attr("why", f"invalid settings: {error.errors()[0]['msg']}")
            raise optuna.TrialPruned from None
        started = time.perf_counter()
        fits = self._fit(members)
        trial.set_user_attr("fit_seconds", round(time.perf_counter() - started, 2))
        cut = int(len(self.search) * PRUNE_SHARE)
        parts = [self.search.iloc[:cut], self.search.iloc[cut:]] if cut else [self.search]
        scored: dict[str, list[np.ndarray]] = {n: [] for n in fits}
        for step, part in enumerate(parts):
            for n, recommender in fits.items():
                scored[n].append(self._per_query(recommender, part, trial.number))
            best, value = self._best(scored)
            if step < len(parts) - 1:
                trial.report(value, step)
                if trial.should_prune():
                    trial.set_user_attr("member", best)
                    raise optuna.TrialPruned
        trial.set_user_attr("member", best)
        self.values[trial.number] = np.concatenate(scored[best])
        self.confirmed[trial.number] = self._per_query(fits[best], self.confirm, trial.number)
        trial.set_user_attr("confirm_value", m.mean(self.confirmed[trial.number]))
        return value

    def _with(self, settings: Settings, chosen: dict, left: float) -> Settings:
        """``settings`` with the trial's values (and a training budget cut to ``left``)."""
        values = settings.model_dump() | chosen
        if BUDGET_SETTING in values:
            values[BUDGET_SETTING] = min(values[BUDGET_SETTING] or math.inf, left)
        return self.kind.settings(**values)

    def _fit(self, members: dict[str, Settings]) -> dict:
        """Every member fitted: a shared first stage trained once for all of them."""
        inputs = self.inputs
        self.fit_playlists = self.fit_playlists or _playlists(inputs)
        sharing = self.kind.shared_training
        trained = None
        if sharing is not None and len(members) > 1:
            trained = sharing.train(inputs, members[inputs.name])
        return {
            n: self.kind.fit(dataclasses.replace(inputs, name=n, trained=trained), s).recommender
            for n, s in members.items()
        }

    def _per_query(self, recommender, queries: pd.DataFrame, number: int) -> np.ndarray:
        ranked = rank_targets(recommender, queries, self.evaluation, what=f"trial {number}")
        return m.per_query(ranked.ranks, self.metric, self.k)[ranked.counted]

    @staticmethod
    def _best(scored: dict[str, list[np.ndarray]]) -> tuple[str, float]:
        means = {n: m.mean(np.concatenate(parts)) for n, parts in scored.items()}
        best = max(sorted(means), key=lambda n: means[n])
        return best, float(means[best])


@contextlib.contextmanager
def _quiet(*names: str):
    """The fits' and evaluations' own INFO lines held back during a trial (one line a trial is
    logged instead); warnings still show."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(max(log.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def suggest(trial: optuna.Trial, name: str, dim: Dimension) -> Any:
    """The trial's value for one declared dimension."""
    if isinstance(dim, IntRange):
        return trial.suggest_int(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, FloatRange):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    return trial.suggest_categorical(name, list(dim.values))


def _playlists(inputs: FitInputs) -> int:
    return int(first_row(sql("SELECT count(DISTINCT playlist_id) FROM {r}", r=inputs.playlists))[0])


def _none(why: str) -> dict:
    return {
        "trials": 0,
        "complete": 0,
        "pruned": 0,
        "failed": 0,
        "seconds": 0.0,
        "tuned": False,
        "changed": {},
        "decision": f"fitted as declared: {why}",
    }


def _decide(
    study, scored, declared: Settings, space: dict, tuning: TuningParams
) -> tuple[dict, dict]:
    """Whether the best trial's setting replaces the conf's (see the module doc): the best on
    the search queries, judged against the conf's on the confirm queries.

    Returns:
        The summary's figures and decision, and the settings that ship.
    """
    values, confirmed = scored.values, scored.confirmed
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    declared_values = declared.model_dump()
    if not complete:
        return _none("no trial completed within the budget"), declared_values
    default = study.trials[0]
    best = max(complete, key=lambda t: (t.value, -t.number))
    result: dict[str, Any] = {
        "best_value": best.value,
        "best_se": m.standard_error(values[best.number]),
        "best_trial": best.number,
        "tuned": False,
        "changed": {},
    }
    if default.state != optuna.trial.TrialState.COMPLETE:
        decision = "the conf's setting did not complete a trial; it is kept"
        return result | {"decision": decision}, declared_values
    changed = {
        p: [declared_values[p], best.params[p]]
        for p in space
        if best.params[p] != declared_values[p]
    }
    kept = best.number == 0 or not changed  # the conf's own setting is the best
    default_confirmed = confirmed[0]
    best_confirmed = default_confirmed if kept else confirmed[best.number]
    lead = 0.0 if kept else m.mean(best_confirmed) - m.mean(default_confirmed)
    paired = 0.0 if kept else m.standard_error(best_confirmed - default_confirmed)
    result |= {
        "default_value": default.value,
        "default_se": m.standard_error(values[0]),
        "confirm_default_value": m.mean(default_confirmed),
        "confirm_best_value": m.mean(best_confirmed),
        "lead": lead,
        "paired_se": paired,
    }
    if kept:
        decision = (
            "the conf's setting is the only complete trial; kept"
            if len(complete) == 1
            else f"the conf's setting is the best of {len(complete)} complete trials; kept"
        )
        return result | {"decision": decision}, declared_values
    moved = changes_text(changed)
    if lead > tuning.min_lead_se * paired:
        decision = (
            f"tuned ({moved}): best of {len(complete)} trials on the search queries "
            f"({best.value:.4f} against the conf's {default.value:.4f}); on the confirm "
            f"queries {m.mean(best_confirmed):.4f} against {m.mean(default_confirmed):.4f}, a "
            f"lead of {lead:.4f} (paired SE {paired:.4f})"
        )
        tuned = {"tuned": True, "changed": changed, "decision": decision}
        return result | tuned, declared_values | best.params
    decision = (
        f"the conf's setting is kept: the best of {len(complete)} trials on the search queries "
        f"({moved}: {best.value:.4f} against {default.value:.4f}) leads it by {lead:.4f} on the "
        f"confirm queries, not more than {tuning.min_lead_se:g} paired SE ({paired:.4f})"
    )
    return result | {"decision": decision}, declared_values


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


def changes_text(changed: dict) -> str:
    """``{"window": [5, None]}`` → ``"window 5 → None"`` (floats to 4 significant digits)."""
    return ", ".join(f"{p} {_short(a)} → {_short(b)}" for p, (a, b) in changed.items())


def _progress(name: str, seconds: float, patience: int | None):
    """Logs each trial, and stops the study when the slowest trial so far would no longer fit
    in the time left (Optuna's ``timeout`` only keeps a trial from starting after it), or when
    ``patience`` trials in a row found nothing better."""
    started = time.perf_counter()
    slowest = 0.0

    def log(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal slowest
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = max((t.value for t in complete), default=math.nan)
        shown = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        logger.info(
            "Tuning %s: trial %d %s (best %.4f), %.0f of %.0f s",
            name,
            trial.number,
            shown,
            best,
            time.perf_counter() - started,
            seconds,
        )
        if trial.duration is not None:
            slowest = max(slowest, trial.duration.total_seconds())
        if time.perf_counter() - started + slowest > seconds:
            study.stop()
        if patience and complete:
            best_at = max(complete, key=lambda t: (t.value, -t.number)).number
            if trial.number - best_at >= patience:
                study.stop()

    return log


def _trials_frame(trials: list, space: Mapping[str, Dimension]) -> pd.DataFrame:
    """One row per trial: number, state, value (search queries), seconds, the value on the
    confirm queries, which variant scored, its settings."""
    rows = []
    for t in trials:
        row = {
            "trial": t.number,
            "state": t.state.name,
            "value": t.value if t.value is not None else math.nan,
            "seconds": t.duration.total_seconds() if t.duration else math.nan,
            "fit_seconds": t.user_attrs.get("fit_seconds", math.nan),
            "confirm_value": t.user_attrs.get("confirm_value", math.nan),
            "scored_as": t.user_attrs.get("member", ""),
            "note": t.user_attrs.get("why", ""),
        }
        row |= {f"param_{p}": t.params.get(p) for p in space}
        rows.append(row)
    columns = [
        "trial", "state", "value", "seconds", "fit_seconds", "confirm_value", "scored_as", "note"
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns + [f"param_{p}" for p in space])
