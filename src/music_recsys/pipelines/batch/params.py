"""Typed parameters of the batch pipeline (``conf/base/parameters_batch.yml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from music_recsys.core.params import Params


class BatchParams(Params):
    """Which model answers, how many next tracks, and how many playlists a part holds."""

    model: Literal["deployed", "selected"] = Field(
        "deployed",
        description="deployed: what `kedro run --pipelines deployment` packaged (the endpoint's "
        "model); selected: the data_science run's selected recommender (its evaluated fit)",
    )
    k: int = Field(10, ge=1, description="next tracks per playlist")
    playlists_per_part: int = Field(
        20_000, ge=1, description="playlists ranked and written at a time: the memory bound"
    )
