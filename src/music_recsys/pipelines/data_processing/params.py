"""Typed parameters of the data_processing pipeline (``conf/base/parameters_data_processing.yml``).

Kedro validates each ``params:`` group against these models before any node runs, so a typo in a
key or a split that does not add up fails at once, with the key named.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from music_recsys.core.params import Params


class CleaningParams(Params):
    """What to do with rows whose artist or track name is empty after trimming."""

    empty_artist: Literal["keep", "drop"] = "keep"
    empty_track: Literal["keep", "drop"] = "drop"


class FilterParams(Params):
    """Minimum sizes; rows removed by each are counted under their own reason."""

    min_track_frequency: int = Field(1, ge=1, description="Rows a track needs, over all playlists.")
    min_playlist_length: int = Field(
        2, ge=1, description="Tracks a playlist needs, after the track filter."
    )


class OrderCheckParams(Params):
    """When to call the rows of a playlist 'sorted by track name' rather than 'in play order'."""

    sorted_share_threshold: float = Field(0.9, gt=0, le=1)


class SplitParams(Params):
    """Playlist-level split into train / validation / test."""

    seed: int = 42
    train: float = Field(0.7, gt=0, lt=1)
    validation: float = Field(0.2, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitParams:
        total = self.train + self.validation + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self
