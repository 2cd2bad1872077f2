"""Benchmark: how far tuning word2vec goes on real radio playlists (next-track, validation).

Run ``benchmarks/quality.py`` first: this reuses the splits and queries it wrote in
``benchmarks/.work/quality_next_track``. Starting from the best variant of the sweep (skip-gram, in_out
scoring, the literature's music settings), it changes one hyperparameter at a time and prints
validation HR@10 beside the co-occurrence baseline on the same queries. Training uses one
worker and a fixed seed, so every row is reproducible.

Usage (from the project root):
    .venv/bin/python benchmarks/word2vec_tuning.py
"""

from __future__ import annotations

import pickle
import sys

import pandas as pd

from common import WORKDIR
from music_recsys.core.evaluation import evaluate as _evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import build_queries
from music_recsys.duckdb_sql import connection
from music_recsys.kinds import FitInputs
from music_recsys.kinds.word2vec import Word2VecSettings as Word2VecParams
from music_recsys.kinds.word2vec import fit as _fit_word2vec


def fit_word2vec(rows, index, settings):
    fitted = _fit_word2vec(FitInputs(rows, index, {"next_track_is_meaningful": True}), settings)
    return fitted.recommender, fitted.stats


def evaluate(model, queries, evaluation):
    return _evaluate(model, queries, evaluation)[0]


BASE = {
    "sg": 1, "vector_size": 50, "window": 3, "epochs": 100, "negative": 5, "ns_exponent": -0.5,
    "sample": 1e-5, "min_count": 1, "seed": 1, "workers": 1, "scoring": "in_out",
}  # fmt: skip
CHANGES = [
    {},
    {"scoring": "cosine"},
    {"sg": 0},
    {"window": 1}, {"window": 2}, {"window": 5}, {"window": 10},
    {"epochs": 30}, {"epochs": 200},
    {"ns_exponent": 0.0}, {"ns_exponent": 0.75}, {"ns_exponent": 1.0},
    {"sample": 0.0}, {"sample": 1e-4}, {"sample": 1e-3},
    {"vector_size": 32}, {"vector_size": 100},
    {"negative": 15},
    # Combinations of the changes that helped most, one at a time.
    {"window": 10, "epochs": 200, "sample": 1e-4},
    {"window": 5, "epochs": 200, "sample": 1e-4, "negative": 15},
    {"window": 10, "epochs": 200, "sample": 0.0, "negative": 15},
    {"window": 10, "epochs": 300, "sample": 1e-4, "negative": 15},
]  # fmt: skip


def main(changes: list[dict] = CHANGES) -> None:
    data = WORKDIR / "quality_next_track" / "data"
    train = connection().read_parquet(str(data / "04_model_input/playlists_train.parquet"))
    validation = connection().read_parquet(
        str(data / "04_model_input/playlists_validation.parquet")
    )
    track_index = pd.read_parquet(data / "04_model_input/track_index.parquet")
    cooccurrence = pickle.loads((data / "05_models/cooccurrence/recommender.pkl").read_bytes())
    query_sets = {}
    for length in (1, 5):
        params = EvaluationParams(protocol="next_track", query_length=length)
        query_sets[length] = (params, build_queries(validation, {"protocol": "next_track"}, params))
    reference = {
        n: evaluate(cooccurrence, q, p)["hit_rate_at_10"] for n, (p, q) in query_sets.items()
    }
    print("\nvalidation HR@10, next-track; one change at a time from the base setting\n")
    print("| change from base | query = last 1 | query = last 5 | train s |")
    print("|---|---|---|---|")
    print(f"| co-occurrence ±5 (baseline) | {reference[1]:.3f} | {reference[5]:.3f} | |")
    for change in changes:
        model, stats = fit_word2vec(train, track_index, Word2VecParams(**(BASE | change)))
        scores = [evaluate(model, q, p)["hit_rate_at_10"] for p, q in query_sets.values()]
        label = ", ".join(f"{k}={v}" for k, v in change.items()) or f"base: {BASE}"
        print(
            f"| {label} | {scores[0]:.3f} | {scores[1]:.3f} | {stats['training_seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(CHANGES[-4:] if "--combinations" in sys.argv else CHANGES)
