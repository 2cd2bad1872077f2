"""The evaluation protocol: its settings (``evaluation`` in ``conf/base/parameters_data_science.yml``)
and the choice between next-track and playlist continuation."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field, field_validator, model_validator

from music_recsys.core.metrics import METRICS, parse_metric
from music_recsys.core.params import Params

logger = logging.getLogger(__name__)


class EvaluationParams(Params):
    """How candidates are evaluated; the same queries for every candidate."""

    protocol: Literal["auto", "next_track", "continuation"] = "auto"
    max_query_tracks: int = Field(
        50, ge=1, description="most query tracks per playlist (next_track: the last ones)"
    )
    last_track_figures: bool = Field(
        True,
        description="next_track: also score the selected candidate and the baselines on test "
        "asked with the last track alone",
    )
    k: tuple[int, ...] = (1, 10, 20, 100)
    metrics: tuple[str, ...] = Field(
        tuple(METRICS),
        description="the ranking metrics computed at each K: names in core.metrics.METRICS",
    )
    max_queries: int = Field(
        5_000, ge=1, description="playlists evaluated per split (a seeded sample)"
    )
    seed: int = 0
    selection_metric: str = "hit_rate_at_10"
    min_lead_se: float = Field(
        1.0, ge=0, description="a less simple candidate must lead by this many paired SEs"
    )
    small_validation_queries: int = Field(
        1_000, ge=0, description="below this many counted validation queries, the rule is stricter"
    )
    small_validation_min_lead_se: float = Field(
        2.0, ge=0, description="the paired SEs a less simple candidate must lead by there"
    )
    batch_bytes: int = Field(
        256 * 2**20, ge=2**20, description="memory for one batch of catalog scores"
    )

    def lead_needed(self, queries: int) -> float:
        """How many paired SEs a less simple candidate must lead by, on this many queries."""
        if queries < self.small_validation_queries:
            return max(self.min_lead_se, self.small_validation_min_lead_se)
        return self.min_lead_se

    def cut_at(self, k: int) -> EvaluationParams:
        """These settings ranking to ``k`` alone (a blend's component lists, the deployment's
        parity check), the selection metric moved to ``k`` so that the copy stays valid."""
        metric, _ = parse_metric(self.selection_metric)
        return self.model_copy(update={"k": (k,), "selection_metric": f"{metric}_at_{k}"})

    @field_validator("k")
    @classmethod
    def _positive_sorted(cls, k: tuple[int, ...]) -> tuple[int, ...]:
        if not k or min(k) < 1:
            raise ValueError("k must list positive cut-offs, e.g. [10, 20, 100]")
        return tuple(sorted(set(k)))

    @field_validator("metrics")
    @classmethod
    def _metrics_are_registered(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        """A misspelt metric fails here, before any node runs, not after hours of fitting."""
        unknown = [name for name in metrics if name not in METRICS]
        if unknown:
            raise ValueError(
                f"metrics: unknown {unknown}; known: {list(METRICS)} "
                "(a new one is registered in music_recsys.core.metrics.METRICS)"
            )
        if not metrics:
            raise ValueError(f"metrics must list at least one of {list(METRICS)}")
        return tuple(dict.fromkeys(metrics))

    @model_validator(mode="after")
    def _metric_is_evaluated(self) -> EvaluationParams:
        """The selection maximises its metric, over figures the evaluation computed."""
        metric, _, k = self.selection_metric.rpartition("_at_")
        if (
            metric not in self.metrics
            or not METRICS[metric].higher_is_better
            or not k.isdigit()
            or int(k) not in self.k
        ):
            maximised = [name for name in self.metrics if METRICS[name].higher_is_better]
            raise ValueError(
                f"selection_metric '{self.selection_metric}' must be <metric>_at_K with <metric> "
                f"one of {maximised} (evaluated, higher is better) and K in k={list(self.k)}"
            )
        return self


def in_play_order(track_order_report: dict) -> bool:
    """Whether data_processing's order check found the rows in play order (else sorted by
    title: there is no play order to read)."""
    return bool(track_order_report.get("next_track_is_meaningful", True))


SORTED_BY_TITLE = "reads the play order, and the rows are sorted by title"


def sits_out(needs_play_order: bool, track_order_report: dict) -> str | None:
    """Why a candidate (or a blend's component) sits out, or None: one that reads the play
    order has nothing to read when the order check found the rows sorted by title."""
    return SORTED_BY_TITLE if needs_play_order and not in_play_order(track_order_report) else None


def choose_protocol(track_order_report: dict, evaluation: EvaluationParams) -> dict:
    """Next-track or playlist continuation: from the parameters, or from the data's order.

    ``auto`` follows data_processing's order check: when playlists list their tracks sorted by
    title, "the next track" is the next title A-Z, so the model is asked to complete the
    playlist instead; otherwise the rows are in play order and the model is asked what plays
    next after the playlist so far.
    """
    if evaluation.protocol != "auto":
        protocol = evaluation.protocol
        reason = f"set in parameters (evaluation.protocol: {protocol})"
    elif in_play_order(track_order_report):
        protocol = "next_track"
        reason = f"auto: rows are in play order — {track_order_report['explanation']}"
    else:
        protocol = "continuation"
        reason = f"auto: rows are sorted by title — {track_order_report['explanation']}"
    logger.info("Evaluation protocol: %s (%s)", protocol, reason)
    return {"protocol": protocol, "reason": reason, "query": QUERY_SHAPES[protocol]}


# What each protocol's query is, in words (the results table, the report and MLflow say it).
QUERY_SHAPES = {
    "next_track": "the playlist so far (up to a seeded cut point), target: the track at the cut",
    "continuation": "the rest of the playlist (a seeded random track held out as the target)",
}
LAST_TRACK = "the last track before the cut alone"
