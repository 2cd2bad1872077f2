"""Where the run's tuning trials go: to the candidates that could win.

Every tuned candidate is first screened at its conf's setting on the tuning queries
(:func:`music_recsys.tuning.study.screen`). A candidate whose screening trails the best one's
by more than ``tuning.contention_se`` paired standard errors is left at its conf's setting: a
search rarely closes such a gap, and its trials are better spent on the leaders. The others —
the contenders — share the run's trials evenly, the better-screened first where they do not
divide evenly, each at most ``tuning.trials_per_setting`` per setting it searches (a
one-setting search needs fewer trials than a five-setting one) and ``tuning.max_trials``;
what a capped candidate cannot use goes to the others.

The run's trials are sized once from the data's shape (:meth:`TuningParams.total_trials`):
``tuning.trials``, or fewer where the tuning sample is large. Counting trials rather than
seconds makes the same data and conf give the same studies on any machine and under any runner.
Validation and test are never read here either: screening and studies use the tuning queries.
"""

from __future__ import annotations

import logging

import numpy as np

from music_recsys.core import metrics as m
from music_recsys.tuning.params import TuningParams

logger = logging.getLogger(__name__)


def plan_trials(tuning: TuningParams, fit_rows: int, screens: dict[str, dict]) -> dict:
    """Trials per candidate from its screening (see the module doc).

    Args:
        tuning: The ``tuning:`` parameters.
        fit_rows: Rows of the tuning sample a trial fits on.
        screens: Per candidate, :func:`~music_recsys.tuning.study.screen`'s result.

    Returns:
        ``{"total": trials of the run, "leader": best-screened candidate, "candidates":
        {name: {"trials", "screen_value", "gap", "paired_se", "why"}}}``.
    """
    total = tuning.total_trials(fit_rows) if tuning.enabled else 0
    screened = {n: s for n, s in screens.items() if s.get("screened")}
    plan: dict[str, dict] = {}
    for name, result in screens.items():
        if not result.get("screened"):
            plan[name] = {"trials": 0, "why": f"not screened: {result.get('why', '')}"}
    # Every tuning query (both halves) judges the screenings: which candidate to search is not
    # what the confirm half later checks (whether a searched setting beats the conf's).
    values = {n: _all_queries(s) for n, s in screened.items()}
    overall = {n: m.mean(v) for n, v in values.items()}
    leader = max(sorted(screened), key=lambda n: overall[n]) if screened else None
    contenders = []
    for name in sorted(screened, key=lambda n: (-overall[n], n)):
        gap = overall[leader] - overall[name]
        paired = m.standard_error(values[leader] - values[name]) if name != leader else 0.0
        entry = {"screen_value": overall[name], "gap": gap, "paired_se": paired}
        if name == leader or gap <= tuning.contention_se * paired:
            contenders.append(name)
            plan[name] = entry
        else:
            plan[name] = entry | {
                "trials": 0,
                "why": f"trails {leader} by {gap:.4f} at the conf's setting, more than "
                f"{tuning.contention_se:g} paired SE ({paired:.4f}): kept as declared",
            }
    caps = [tuning.trials_for(len(screened[n].get("searched", ()))) for n in contenders]
    shares = _shares(total, caps)
    for name, trials in zip(contenders, shares, strict=True):
        lead = (
            "the best screened"
            if name == leader
            else f"within {tuning.contention_se:g} paired SE of {leader}"
        )
        plan[name] |= {"trials": trials, "why": f"{lead}: {trials} trials"}
    spent = sum(p["trials"] for p in plan.values())
    logger.info(
        "Tuning plan: %d trials (of %d) for %s; screened only: %s",
        spent,
        total,
        ", ".join(f"{n} {plan[n]['trials']}" for n in contenders) or "none",
        ", ".join(n for n in sorted(screened) if n not in contenders) or "none",
    )
    return {"total": total, "spent": spent, "leader": leader, "candidates": plan}


def _all_queries(screened: dict) -> np.ndarray:
    return np.concatenate([np.asarray(screened["search"]), np.asarray(screened["confirm"])])


def _shares(total: int, caps: list[int]) -> list[int]:
    """``total`` split as evenly as possible over candidates (earlier ones first where it does
    not divide evenly), none above its cap; what a capped one cannot take goes to the others."""
    shares, left = [0] * len(caps), total
    while left > 0:
        room = [i for i, cap in enumerate(caps) if shares[i] < cap]
        if not room:
            break
        each = max(1, left // len(room))
        for i in room:
            given = min(each, caps[i] - shares[i], left)
            shares[i] += given
            left -= given
            if left == 0:
                break
    return shares
