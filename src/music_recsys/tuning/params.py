"""The ``tuning:`` parameters, validated before any node runs."""

from __future__ import annotations

from pydantic import Field

from music_recsys.core.params import Params


class TuningParams(Params):
    """How candidates are tuned (see ``conf/base/parameters_data_science.yml``)."""

    enabled: bool = True
    trials: int = Field(
        30, ge=0, description="trials of the run beyond each candidate's screening, at most"
    )
    trial_rows: int = Field(
        50_000_000,
        ge=1,
        description="rows fitted by all those trials together, at most: fewer trials where the "
        "tuning sample is larger (the budget is sized once from the data's shape)",
    )
    max_trials: int = Field(40, ge=0, description="trials of one candidate, at most")
    trials_per_setting: int = Field(
        8, ge=1, description="trials of one candidate per setting it searches, at most"
    )
    contention_se: float = Field(
        2.0,
        ge=0,
        description="a candidate is tuned when its screening trails the best one's by at most "
        "this many paired standard errors (on the tuning queries)",
    )
    guard_seconds: float = Field(
        600.0, gt=0, description="a study that runs longer stops (the report names it)"
    )
    patience: int | None = Field(
        15, ge=1, description="a study stops after this many trials without a better one"
    )
    holdout: float = Field(
        0.2, gt=0, lt=1, description="share of the training playlists whose queries score trials"
    )
    max_fit_playlists: int | None = Field(
        20_000, ge=1, description="a trial fits on at most this many training playlists (seeded)"
    )
    max_queries: int = Field(2_000, ge=1, description="tuning queries, at most")
    min_lead_se: float = Field(
        1.0,
        ge=0,
        description="the tuned setting replaces the conf's only when it leads by this many "
        "paired standard errors on the tuning queries",
    )
    pruning: bool = True
    default_on_validation: bool = Field(
        True, description="also fit the conf's setting and score it on validation, to report"
    )
    untuned: tuple[str, ...] = Field(
        (), description="candidates fitted exactly as declared (e.g. transitions: window 1)"
    )
    seed: int = 0

    def trials_for(self, searched_settings: int) -> int:
        """One candidate's trials at most, by how many settings its study searches."""
        return min(self.max_trials, self.trials_per_setting * max(searched_settings, 1))

    def total_trials(self, fit_rows: int) -> int:
        """The run's trials for a tuning sample of ``fit_rows`` rows: ``trials``, or as many
        as ``trial_rows`` allows if fewer (at least one where any are asked for)."""
        if self.trials == 0:
            return 0
        return max(1, min(self.trials, self.trial_rows // max(fit_rows, 1)))
