"""One candidate's tuning: screened at the conf's setting, then an Optuna study over its kind's
search space, for the trials the run's plan gives it (:mod:`.plan`).

- Screening: the conf's settings are fitted on the tuning rows and scored on every tuning
  query (:func:`screen`); that is the study's first trial, and what the plan compares across
  candidates to decide where the trials go.
- TPE proposes the next settings (seeded); a trial fits on the tuning rows and ranks the whole
  catalog for the tuning queries (:mod:`.data`). Pruning: a trial is first scored on a quarter
  of the queries, and stopped there when it trails the median of earlier trials at that point.
- The budget is counted in trials, so the same data and conf give the same study on any
  machine and under any runner. Wall-clock is a guard only: a study that runs past
  ``tuning.guard_seconds`` stops, and its summary says so (``cut_by_guard``). A study also stops
  after ``patience`` trials without a better one.
- A dimension that reads the play order (recency) is searched only where the order can be read
  (:func:`~music_recsys.kinds.search_space.searched`).
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
import functools
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
from music_recsys.kinds.search_space import Choice, Dimension, FloatRange, IntRange, searched
from music_recsys.tables import first_row, sql
from music_recsys.tuning.params import TuningParams

logger = logging.getLogger(__name__)

PRUNE_SHARE = 0.25  # of the tuning queries, scored before a trial may be pruned
# A training budget counted in rows of data (word2vec's words): a trial's is the conf's scaled
# to the tuning sample, so that a trial trains the epochs the full fit will train.
ROWS_BUDGET = "max_training_words"


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


def not_tuned(kind: Kind, inputs: FitInputs, tuning: TuningParams) -> str | None:
    """Why a candidate is fitted as declared without a study, or None."""
    if not kind.search_space:
        return "its kind declares no search space"
    if not tuning.enabled:
        return "tuning is disabled (tuning.enabled)"
    if kind.needs_play_order and not inputs.in_play_order:
        return "it reads the play order, and the rows are sorted by title (it sits out)"
    return None


def screen(
    kind: Kind,
    group: Mapping[str, Settings],
    inputs: FitInputs,
    queries: pd.DataFrame,
    evaluation: EvaluationParams,
    tuning: TuningParams,
    training_rows: int | None = None,
) -> dict:
    """The conf's setting of candidate ``inputs.name`` (and of those sharing its first stage)
    fitted on the tuning rows and scored on every tuning query: its study's first trial, and
    what the run's plan compares (:func:`music_recsys.tuning.plan.plan_trials`).

    Returns:
        ``{"screened": False, "why": ...}``, or its value on the search queries, the
        per-query values on both halves, which variant scored, and the seconds it took.

    Raises:
        The fit's own error: the conf's setting failing here would fail the run's fit too.
    """
    why = not_tuned(kind, inputs, tuning)
    if why:
        return {"screened": False, "why": why}
    metric, k = m.parse_metric(evaluation.selection_metric)
    objective = _Objective(
        kind, group, inputs, queries, evaluation, tuning, metric, k, {}, training_rows
    )
    started = time.perf_counter()
    with _quiet("music_recsys.kinds", "music_recsys.core", "implicit", "gensim"):
        fits = objective.fit({n: objective.for_trial(s) for n, s in group.items()})
        search = {n: objective.per_query(r, objective.search, 0) for n, r in fits.items()}
        best = max(sorted(search), key=lambda n: m.mean(search[n]))
        confirm = objective.per_query(fits[best], objective.confirm, 0)
    seconds = time.perf_counter() - started
    value = m.mean(search[best])
    logger.info(
        "Screening %s at the conf's setting: %s %.4f on %d tuning queries (%.1f s)",
        inputs.name,
        evaluation.selection_metric,
        value,
        len(search[best]),
        seconds,
    )
    return {
        "screened": True,
        "searched": sorted(searched(kind.search_space, inputs.reads_order)),
        "value": value,
        "member": best,
        "search": search[best].tolist(),
        "confirm": confirm.tolist(),
        "seconds": round(seconds, 2),
        "fit_playlists": objective.sample.playlists,
    }


def tune(
    kind: Kind,
    group: Mapping[str, Settings],
    inputs: FitInputs,
    queries: pd.DataFrame,
    evaluation: EvaluationParams,
    tuning: TuningParams,
    trials: int,
    screened: dict | None = None,
    training_rows: int | None = None,
) -> Tuned:
    """Tunes the candidate ``inputs.name`` (with the candidates in ``group`` that share its
    first stage, itself included) on ``queries`` for ``trials`` trials after its screening
    (``screened``: from :func:`screen`; screened here when not given); see the module doc.
    ``training_rows``: the full fit's rows, to which a rows-counted training budget is
    scaled."""
    name = inputs.name
    declared = group[name]
    space = searched(kind.search_space, inputs.reads_order)
    metric, k = m.parse_metric(evaluation.selection_metric)
    base = {
        "metric": evaluation.selection_metric,
        "queries": int(len(queries)),
        "searched": sorted(space),
        "trials_planned": int(trials),
        "guard_seconds": tuning.guard_seconds,
        "cut_by_guard": False,
    }
    why = not_tuned(kind, inputs, tuning)
    if why:
        return Tuned(declared.model_dump(mode="json"), _trials_frame([], space), base | _none(why))
    screened = screened or screen(kind, group, inputs, queries, evaluation, tuning, training_rows)
    objective = _Objective(
        kind, group, inputs, queries, evaluation, tuning, metric, k, space, training_rows, screened
    )
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
    started = time.perf_counter()
    watch = _Watch(name, 1 + trials, tuning.guard_seconds, tuning.patience)
    study.optimize(objective, n_trials=1 + trials, catch=(Exception,), callbacks=[watch])
    elapsed = time.perf_counter() - started + screened.get("seconds", 0.0)
    trials_frame = _trials_frame(study.trials, space)
    decided, chosen = _decide(study, objective, declared, space, tuning)
    summary = (
        base
        | decided
        | {
            "trials": len(study.trials),
            "complete": int((trials_frame["state"] == "COMPLETE").sum()),
            "pruned": int((trials_frame["state"] == "PRUNED").sum()),
            "failed": int((trials_frame["state"] == "FAIL").sum()),
            "seconds": round(elapsed, 1),
            "fit_playlists": int(screened.get("fit_playlists", 0)),
            "cut_by_guard": watch.cut,
            "stopped": watch.stopped,
        }
    )
    if watch.stopped and not watch.cut:
        summary["decision"] += f" (stopped after {len(study.trials)} trials: {watch.stopped})"
    if watch.cut:
        summary["decision"] += (
            f" (the wall-clock guard, tuning.guard_seconds {tuning.guard_seconds:g} s, stopped "
            f"the study after {len(study.trials)} of {1 + trials} trials: this run's tuning is "
            "not reproducible on another machine)"
        )
    logger.info("Tuning %s: %s", name, summary["decision"])
    return Tuned(kind.settings(**chosen).model_dump(mode="json"), trials_frame, summary)


class _Objective:
    """One trial: settings from the space, a fit on the tuning rows, the tuning queries ranked;
    the first trial (the conf's setting) is the screening's (``screened``: its figures stand
    for it, no second fit). ``training_rows``: the full fit's rows, to which a rows-counted
    training budget is scaled."""

    def __init__(
        self,
        kind,
        group,
        inputs,
        queries,
        evaluation,
        tuning,
        metric,
        k,
        space,
        training_rows: int | None = None,
        screened: dict | None = None,
    ):
        self.kind, self.group, self.inputs = kind, dict(group), inputs
        self.queries, self.evaluation, self.tuning = queries, evaluation, tuning
        self.metric, self.k, self.space = metric, k, space
        self.training_rows, self.screened = training_rows, screened
        # Trials are scored on every other tuning query ("search"); a complete trial is also
        # scored on the others ("confirm"), which decide whether the best trial ships: the
        # search's maximum over many trials is biased upwards, a fresh half is not.
        self.search, self.confirm = queries.iloc[0::2], queries.iloc[1::2]
        self.values: dict[int, np.ndarray] = {}  # trial → per-query values on "search"
        self.confirmed: dict[int, np.ndarray] = {}  # trial → per-query values on "confirm"

    @functools.cached_property
    def sample(self) -> _Sample:
        """The tuning rows' size, counted once."""
        rows, playlists = first_row(
            sql("SELECT count(*), count(DISTINCT playlist_id) FROM {r}", r=self.inputs.playlists)
        )
        return _Sample(int(rows), int(playlists))

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            with _quiet("music_recsys.kinds", "music_recsys.core", "implicit", "gensim"):
                return self._trial(trial)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            trial.set_user_attr("why", f"{type(error).__name__}: {error}"[:300])
            raise

    def _trial(self, trial: optuna.Trial) -> float:
        chosen = {p: suggest(trial, p, dim) for p, dim in self.space.items()}
        if trial.number == 0 and self.screened is not None:
            screened = self.screened
            self.values[0] = np.asarray(screened["search"], dtype=np.float64)
            self.confirmed[0] = np.asarray(screened["confirm"], dtype=np.float64)
            trial.set_user_attr("member", screened["member"])
            trial.set_user_attr("fit_seconds", screened["seconds"])
            trial.set_user_attr("confirm_value", m.mean(self.confirmed[0]))
            trial.set_user_attr("why", "screening: the conf's setting")
            return float(screened["value"])
        try:
            members = {n: self._with(s, chosen) for n, s in self.group.items()}
        except ValidationError as error:
            trial.set_user_attr("why", f"invalid settings: {error.errors()[0]['msg']}")
            raise optuna.TrialPruned from None
        started = time.perf_counter()
        fits = self.fit(members)
        trial.set_user_attr("fit_seconds", round(time.perf_counter() - started, 2))
        cut = int(len(self.search) * PRUNE_SHARE)
        parts = [self.search.iloc[:cut], self.search.iloc[cut:]] if cut else [self.search]
        scored: dict[str, list[np.ndarray]] = {n: [] for n in fits}
        for step, part in enumerate(parts):
            for n, recommender in fits.items():
                scored[n].append(self.per_query(recommender, part, trial.number))
            best, value = self._best(scored)
            if step < len(parts) - 1:
                trial.report(value, step)
                if trial.should_prune():
                    trial.set_user_attr("member", best)
                    raise optuna.TrialPruned
        trial.set_user_attr("member", best)
        self.values[trial.number] = np.concatenate(scored[best])
        self.confirmed[trial.number] = self.per_query(fits[best], self.confirm, trial.number)
        trial.set_user_attr("confirm_value", m.mean(self.confirmed[trial.number]))
        return value

    def _with(self, settings: Settings, chosen: dict) -> Settings:
        """``settings`` with the trial's values, as a trial fits them."""
        return self.for_trial(self.kind.settings(**(settings.model_dump() | chosen)))

    def for_trial(self, settings: Settings) -> Settings:
        """The settings a trial fits: reproducible ones (the kind's ``reproducible``: the
        plan and the studies must not depend on thread timing), with a rows-counted training
        budget scaled to the tuning sample."""
        if self.kind.reproducible is not None:
            settings = self.kind.reproducible(settings)
        budget = getattr(settings, ROWS_BUDGET, None)
        if budget is not None and self.training_rows:
            share = min(1.0, self.sample.rows / self.training_rows)
            scaled = max(1, math.ceil(budget * share))
            settings = self.kind.settings(**(settings.model_dump() | {ROWS_BUDGET: scaled}))
        return settings

    def fit(self, members: dict[str, Settings]) -> dict:
        """Every member fitted: a shared first stage trained once for all of them."""
        inputs = self.inputs
        sharing = self.kind.shared_training
        trained = None
        if sharing is not None and len(members) > 1:
            trained = sharing.train(inputs, members[inputs.name])
        return {
            n: self.kind.fit(dataclasses.replace(inputs, name=n, trained=trained), s).recommender
            for n, s in members.items()
        }

    def per_query(self, recommender, queries: pd.DataFrame, number: int) -> np.ndarray:
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


@dataclasses.dataclass(frozen=True)
class _Sample:
    rows: int
    playlists: int


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


class _Watch:
    """Logs each trial; stops the study after ``patience`` trials in a row found nothing
    better, or once it has run ``guard_seconds`` (the guard: the summary names the cut)."""

    def __init__(self, name: str, planned: int, guard_seconds: float, patience: int | None):
        self.name, self.planned = name, planned
        self.guard_seconds, self.patience = guard_seconds, patience
        self.started = time.perf_counter()
        self.cut = False
        self.stopped = ""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = max((t.value for t in complete), default=math.nan)
        shown = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        elapsed = time.perf_counter() - self.started
        logger.info(
            "Tuning %s: trial %d of %d %s (best %.4f), %.0f s",
            self.name,
            trial.number,
            self.planned - 1,
            shown,
            best,
            elapsed,
        )
        if len(study.trials) >= self.planned:
            return
        if elapsed > self.guard_seconds:
            self.cut = True
            self.stopped = f"the wall-clock guard ({self.guard_seconds:g} s)"
            study.stop()
        elif self.patience and complete:
            best_at = max(complete, key=lambda t: (t.value, -t.number)).number
            if trial.number - best_at >= self.patience:
                self.stopped = f"{self.patience} trials without a better one (patience)"
                study.stop()


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
