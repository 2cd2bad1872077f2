"""The ``tuning:`` parameters, validated before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TuningParams(BaseModel):
    """How candidates are tuned (see ``conf/base/parameters_data_science.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    seconds_per_candidate: float = Field(
        120.0, gt=0, description="wall-clock budget of one candidate's trials, at most"
    )
    total_seconds: float = Field(
        60.0, gt=0, description="all candidates' trials together (at least), split evenly"
    )
    seconds_per_million_rows: float = Field(
        30.0, ge=0, description="the total grows with the training rows beyond total_seconds"
    )
    patience: int | None = Field(
        15, ge=1, description="a study stops after this many trials without a better one"
    )
    max_trials: int = Field(40, ge=1, description="trials per candidate, at most")
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

    def total(self, training_rows: int) -> float:
        """All studies' budget for this many training rows."""
        return max(self.total_seconds, self.seconds_per_million_rows * training_rows / 1e6)

    def seconds_each(self, tuned_candidates: int, training_rows: int) -> float:
        """One candidate's budget: its own, or an even share of the total if that is less."""
        return min(self.seconds_per_candidate, self.total(training_rows) / max(tuned_candidates, 1))
