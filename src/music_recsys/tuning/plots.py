"""Optuna's own plots of a candidate's tuning, from its trials table.

The study is rebuilt from the table the tuning node saved (every trial's settings, state and
value), so the plots are a reporting step of their own and read what MLflow and the report
show.
"""

from __future__ import annotations

import math
import warnings

import matplotlib
import matplotlib.pyplot as plt
import optuna
import pandas as pd
from matplotlib.figure import Figure

from music_recsys.kinds.search_space import Choice, IntRange, SearchSpace
from music_recsys.tuning.study import distribution


def study_from_trials(trials: pd.DataFrame, space: SearchSpace) -> optuna.Study:
    """An in-memory study holding the table's complete and pruned trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    distributions = {p: distribution(dim) for p, dim in space.items()}
    for row in trials.itertuples(index=False):
        state = optuna.trial.TrialState[row.state]
        if state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
            continue
        params = {p: _value(getattr(row, f"param_{p}"), space[p]) for p in space}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                value=row.value if state == optuna.trial.TrialState.COMPLETE else None,
                state=state,
            )
        )
    return study


def _value(value, dim):
    """A parameter as the table stored it (pandas turns None into NaN, ints into floats)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(dim, Choice):
        # The declared choice equal to it, of its own type first (True == 1 == 1.0).
        equal = [choice for choice in dim.values if choice == value]
        exact = [choice for choice in equal if type(choice) is type(value)]
        return (exact or equal or [value])[0]
    return int(value) if isinstance(dim, IntRange) else float(value)


def plot_tuning(
    trials: pd.DataFrame, space: SearchSpace, name: str, decision: str = ""
) -> tuple[Figure, Figure]:
    """Optimisation history and parameter importances (fANOVA) of one candidate's trials; a
    figure that says why (``decision``), where there is nothing to plot."""
    space = {p: dim for p, dim in space.items() if f"param_{p}" in trials}  # those searched
    study = study_from_trials(trials, space)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) <= 1:  # none, or the screening alone: nothing to draw a history of
        note = decision or ("no trial completed" if len(trials) else "not tuned")
        if len(complete) == 1:
            note = f"screened at the conf's setting ({complete[0].value:.4f}), no search: {note}"
        return _note(f"{name}: {note}"), _note(f"{name}: {note}")
    # Optuna's plots set pyplot's style globally: kept inside this block, and their figures
    # closed in pyplot (they stay drawable) so that nothing outlives the node.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        history = optuna.visualization.matplotlib.plot_optimization_history(
            study, target_name="tuning " + "HR@10"
        ).figure
        history.suptitle(f"{name}: tuning trials (trial 0 = the conf's setting)")
        importance = _importance(study, complete, space, name)
    for figure in (history, importance):
        plt.close(figure)
        figure.set_size_inches(8, 4.5)
        figure.tight_layout()
    return history, importance


def _importance(study: optuna.Study, complete: list, space: SearchSpace, name: str) -> Figure:
    """fANOVA's parameter importances, or a note where they cannot be computed: too few
    trials or settings, or trials that all scored the same (no variance to apportion)."""
    values = {t.value for t in complete}
    if len(complete) < 3 or len(space) < 2 or len(values) < 2:
        why = "they all scored the same" if len(values) < 2 else "too few for importances"
        return _note(f"{name}: {len(complete)} complete trials over {len(space)} setting(s): {why}")
    figure = optuna.visualization.matplotlib.plot_param_importances(study).figure
    figure.suptitle(f"{name}: which settings mattered (fANOVA, {len(complete)} trials)")
    return figure


def _note(text: str) -> Figure:
    figure = Figure(figsize=(8, 2))
    figure.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return figure
