"""Ranking by track vectors: the dense machinery of word2vec and iALS."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from music_recsys.core.catalog import Query
from music_recsys.core.ranking import (
    EXCLUDED,
    UNSCORABLE,
    Recommender,
    first_free,
    most_popular,
    top_k,
)


@dataclass
class Embedding(Recommender):
    """Scores tracks by the dot product of a query vector with each track's item vector.

    The query vector is the recency-weighted sum of the query tracks' vectors, L2-normalised.
    Two scorings, set per word2vec variant:

    - ``cosine``: query and item vectors are the same L2-normalised word vectors, so the score is
      the cosine similarity (what the original tutorial evaluated).
    - ``in_out``: item vectors are word2vec's output (context) vectors, unnormalised, so the
      score is what skip-gram / CBOW were trained to predict — which track appears next to the
      query tracks — including the popularity that the output vectors' norms carry (Nalisnick et
      al. 2016, "A Dual Embedding Space Model").

    Tracks without a vector (under word2vec's ``min_count``) are unscorable and rank last.
    """

    query_vectors: np.ndarray = None  # float32 [catalog, dim]; rows of unknown tracks are 0
    item_vectors: np.ndarray = None  # float32 [catalog, dim]
    has_vector: np.ndarray = None  # bool [catalog]
    scoring: str = "cosine"
    kind: str = field(default="word2vec", init=False)

    def known(self, query: Query) -> Query:
        keep = self.has_vector[query.indices]
        return Query(query.indices[keep], query.weights[keep])

    def query_embedding(self, queries: list[Query]) -> np.ndarray:
        vectors = np.stack(
            [q.weights.astype(np.float32) @ self.query_vectors[q.indices] for q in queries]
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def raw_scores(self, queries: list[Query]) -> np.ndarray:
        scores = self.query_embedding(queries) @ self.item_vectors.T
        scores[:, ~self.has_vector] = UNSCORABLE
        return scores

    def _rank(self, queries: list[Query], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores only the tracks with a vector (under ``min_count`` there may be few), then
        the rest of the K as the dense ranking has them: tracks without a vector after every
        scored one, by index; a query with no usable track gets the most popular ones."""
        n = len(self.index)
        vectorised = self._vectorised()
        known = [self.known(query) for query in queries]
        fell_back = np.array([len(query.indices) == 0 for query in known], dtype=bool)
        top = np.full((len(queries), min(k, n)), -1, dtype=np.int64)
        top_scores = np.zeros(top.shape, dtype=np.float32)
        counts = self.index.counts.astype(np.float32)
        answerable = np.flatnonzero(~fell_back)
        if len(answerable):
            items = self.item_vectors if len(vectorised) == n else self.item_vectors[vectorised]
            scores = self.query_embedding([known[i] for i in answerable]) @ items.T
            for row, i in enumerate(answerable):
                seeds = np.searchsorted(vectorised, known[i].indices)  # seeds with a vector
                scores[row, seeds] = EXCLUDED
            compact = top_k(scores, top.shape[1])
            for row, i in enumerate(answerable):
                chosen = compact[row][compact[row] >= 0]
                values = scores[row, chosen]
                chosen = vectorised[chosen]
                missing = top.shape[1] - len(chosen)
                if missing:  # every scorable track is a seed or taken: tracks without a vector
                    filler = first_free(
                        n, np.concatenate([queries[i].indices, vectorised]), missing
                    )
                    filler = filler[filler >= 0]
                    chosen = np.concatenate([chosen, filler])
                    values = np.concatenate([values, np.full(len(filler), UNSCORABLE)])
                top[i, : len(chosen)] = chosen
                top_scores[i, : len(chosen)] = values
        for i in np.flatnonzero(fell_back):
            top[i], top_scores[i] = most_popular(counts, queries[i].indices, top.shape[1])
        return top, top_scores, fell_back

    def rank_cost(self, query: Query) -> int:
        return 4 * len(self._vectorised())

    def _vectorised(self) -> np.ndarray:
        """Catalog indices of the tracks with a vector, ascending (cached)."""
        cached = self.__dict__.get("_vectorised_indices")
        if cached is None:
            cached = np.flatnonzero(self.has_vector)
            self.__dict__["_vectorised_indices"] = cached
        return cached
