"""Typed parameters of the data_science pipeline (``conf/base/parameters_data_science.yml``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


METRIC_NAME = re.compile(r"^(hit_rate|mrr|ndcg)_at_(\d+)$")


class EvaluationParams(_Params):
    """How candidates are evaluated; the same queries for every candidate."""

    protocol: Literal["auto", "next_track", "continuation"] = "auto"
    query_length: int = Field(
        1, ge=1, description="next_track: tracks before the target in the query"
    )
    max_query_tracks: int = Field(
        50, ge=1, description="continuation: most query tracks per playlist"
    )
    query_decay: float = Field(
        1.0, gt=0, le=1, description="weight of a query track = decay ** steps from the end"
    )
    k: tuple[int, ...] = (10, 20, 100)
    max_queries: int = Field(
        5_000, ge=1, description="playlists evaluated per split (a seeded sample)"
    )
    seed: int = 0
    selection_metric: str = "hit_rate_at_10"
    batch_bytes: int = Field(
        256 * 2**20, ge=2**20, description="memory for one batch of catalog scores"
    )

    @field_validator("k")
    @classmethod
    def _positive_sorted(cls, k: tuple[int, ...]) -> tuple[int, ...]:
        if not k or min(k) < 1:
            raise ValueError("k must list positive cut-offs, e.g. [10, 20, 100]")
        return tuple(sorted(set(k)))

    @model_validator(mode="after")
    def _metric_is_evaluated(self) -> EvaluationParams:
        match = METRIC_NAME.match(self.selection_metric)
        if not match or int(match.group(2)) not in self.k:
            raise ValueError(
                f"selection_metric '{self.selection_metric}' must be hit_rate_at_K, mrr_at_K or "
                f"ndcg_at_K with K in k={list(self.k)}"
            )
        return self
