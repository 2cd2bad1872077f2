"""Most popular: the same list for everyone, tracks by their number of training rows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.ranking import Recommender, most_popular
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, Settings


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

    def _rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def fit(inputs: FitInputs, settings: MostPopularSettings) -> Fitted:
    """The popularity baseline: read off the catalog's order."""
    started = time.perf_counter()
    model = MostPopular(TrackIndex.from_frame(inputs.track_index), name=inputs.name)
    return Fitted(model, {"fit_seconds": time.perf_counter() - started})


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> MostPopular:
    return MostPopular(index, name=name)


KIND = Kind(
    name="most_popular",
    settings=MostPopularSettings,
    fit=fit,
    simplicity=0,
    baseline=True,
    serving_layer="music_recsys.kinds.most_popular.serving:layer",
    arrays=(),  # the popularity every package holds
    from_arrays=from_arrays,
)
