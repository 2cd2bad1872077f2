"""Most popular: the same list for everyone, tracks by their number of training rows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.ranking import Recommender, most_popular
from music_recsys.kinds import Kind, Settings


class MostPopularSettings(Settings):
    """No settings."""


@dataclass
class MostPopular(Recommender):
    """The same list for everyone: tracks by number of training rows."""

    kind: str = field(default="most_popular", init=False)

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        return np.broadcast_to(
            self.index.counts.astype(np.float32), (len(queries), len(self.index))
        )

    def rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.index)
        top = np.full((len(queries), min(k, n)), -1, dtype=np.int64)
        top_scores = np.zeros(top.shape, dtype=np.float32)
        counts = self.index.counts.astype(np.float32)
        for row, query in enumerate(queries):
            top[row], top_scores[row] = most_popular(counts, query.indices, top.shape[1])
        fell_back = np.array([len(q.indices) == 0 for q in queries], dtype=bool)
        return top, top_scores, fell_back

    def rank_cost(self, query: Query) -> int:
        return 8 * (len(query.indices) + 1)


def fit(playlists, track_index, track_order_report: dict, settings: MostPopularSettings):
    """The popularity baseline: read off the catalog's order."""
    started = time.perf_counter()
    model = MostPopular(TrackIndex.from_frame(track_index), name="most_popular")
    return model, {"fit_seconds": time.perf_counter() - started}


KIND = Kind(
    name="most_popular",
    settings=MostPopularSettings,
    fit=fit,
    simplicity=0,
    baseline=True,
    from_arrays=lambda index, arrays, name: MostPopular(index, name=name),
)
