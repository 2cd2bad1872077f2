"""The catalog and the query: the two shapes every part of the project speaks.

The catalog is every track of the training playlists, indexed most popular first
(:class:`TrackIndex`); a query is a playlist so far, as catalog indices with recency weights
(:class:`Query`). This module needs numpy only: a pickled recommender loads without Kedro or
DuckDB (:func:`music_recsys.core.training_rows.build_track_index` builds the index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TrackIndex:
    """The catalog: track ids, most popular first, with their training popularity."""

    track_ids: np.ndarray  # object array of str, position = index
    counts: np.ndarray  # int64: rows in training playlists

    def __post_init__(self) -> None:
        self._position: dict[str, int] | None = None  # built on the first lookup

    def __len__(self) -> int:
        return len(self.track_ids)

    def __getstate__(self) -> dict:
        return {"track_ids": self.track_ids, "counts": self.counts}

    def __setstate__(self, state: dict) -> None:
        self.track_ids, self.counts = state["track_ids"], state["counts"]
        self.__post_init__()

    def lookup(self, tracks: list[str]) -> np.ndarray:
        """Indices of the known tracks among ``tracks`` (unknown ones are left out), in order."""
        if self._position is None:
            self._position = {track: i for i, track in enumerate(self.track_ids.tolist())}
        found = [self._position.get(track, -1) for track in tracks]
        return np.array([i for i in found if i >= 0], dtype=np.int64)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TrackIndex:
        """From a frame with ``track_id`` and ``count``, already in index order."""
        return cls(
            frame["track_id"].to_numpy(dtype=object), frame["count"].to_numpy(dtype=np.int64)
        )


@dataclass
class Query:
    """A playlist so far: catalog indices of its tracks, oldest first, and their weights (set
    by the recommender that ranks it: its recency, :mod:`music_recsys.core.recency`)."""

    indices: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, indices: np.ndarray) -> Query:
        """The query of these catalog indices, oldest first, every track weighing 1."""
        indices = np.asarray(indices, dtype=np.int64)
        return cls(indices, np.ones(len(indices), dtype=np.float32))
