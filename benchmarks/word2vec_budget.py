"""Benchmark: which word2vec settings are worth their time on a corpus the real file's size.

Chamberlain et al. (RecSys 2020) tune under a time budget on a 10 % sample and train the
winner on everything. This does the same with the full-size benchmark's data
(``benchmarks/.work/full_size``, made by ``benchmarks/full_size.py``):

1. a seeded 10 % of the training playlists; every setting trains under a tenth of the
   full-size budget (``max_training_seconds``), so each fits the epochs it would fit at full
   size, and is scored on the same 5,000 validation queries (continuation, whole catalog);
2. the best settings, and the default sweep's, train on all the training playlists under the
   full budget; co-occurrence is the reference on the same queries.

Usage (from the project root, after `benchmarks/full_size.py`; ~25 minutes):
    .venv/bin/python benchmarks/word2vec_budget.py [--budget 300] [--confirm 2]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pandas as pd

from common import WORKDIR
from music_recsys.core.evaluation import evaluate as _evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import connection, sql
from music_recsys.kinds import FitInputs
from music_recsys.kinds.word2vec import Word2VecSettings as Word2VecParams
from music_recsys.kinds.word2vec import fit as _fit_word2vec


def fit_word2vec(rows, index, settings):
    fitted = _fit_word2vec(FitInputs(rows, index, {"next_track_is_meaningful": True}), settings)
    return fitted.recommender, fitted.stats


def evaluate(model, queries, evaluation):
    return _evaluate(model, queries, evaluation)[0]


MUSIC = {
    "sg": 1, "vector_size": 50, "window": 3, "epochs": 100, "negative": 5, "ns_exponent": -0.5,
    "sample": 1e-5, "min_count": 1, "seed": 1, "workers": 2, "scoring": "in_out",
}  # fmt: skip
SETTINGS = {
    "music sg (default sweep)": {},
    "sg, window 10": {"window": 10},
    "sg, sample 1e-4": {"sample": 1e-4},
    "sg, alpha 0.05": {"alpha": 0.05},
    "sg, dim 32": {"vector_size": 32},
    "sg, min_count 3": {"min_count": 3},
    "cbow": {"sg": 0},
    "cbow, window 10": {"sg": 0, "window": 10},
    "cbow, window 10, alpha 0.05": {"sg": 0, "window": 10, "alpha": 0.05},
    "cbow, window 10, sample 1e-4": {"sg": 0, "window": 10, "sample": 1e-4},
    "cbow, window 10, negative 15": {"sg": 0, "window": 10, "negative": 15},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=300, help="full-size seconds per setting")
    parser.add_argument("--confirm", type=int, default=2, help="best settings rerun at full size")
    parser.add_argument("--project", type=Path, default=WORKDIR / "full_size")
    args = parser.parse_args()

    data = args.project / "data"
    train = connection().read_parquet(str(data / "04_model_input/playlists_train.parquet"))
    queries = pd.read_parquet(data / "04_model_input/validation_queries.parquet")
    evaluation = EvaluationParams()
    sample = sql(
        "SELECT * FROM {t} WHERE hash(playlist_id + 7) % 10 = 0", t=train
    )  # a seeded tenth of the playlists
    sample_index = build_track_index(sample)
    full_index = pd.read_parquet(data / "04_model_input/track_index.parquet")
    cooccurrence = pickle.loads((data / "05_models/cooccurrence/recommender.pkl").read_bytes())
    reference = evaluate(cooccurrence, queries, evaluation)["hit_rate_at_10"]

    print(f"\n10 % sample: {len(sample_index):,} tracks; budget {args.budget / 10:.0f} s\n")
    print("| setting (in·out scoring) | validation HR@10 | epochs in budget | train s |")
    print("|---|---|---|---|")
    scores = {}
    for label, change in SETTINGS.items():
        params = Word2VecParams(**(MUSIC | change | {"max_training_seconds": args.budget / 10}))
        model, stats = fit_word2vec(sample, sample_index, params)
        scores[label] = evaluate(model, queries, evaluation)["hit_rate_at_10"]
        print(
            f"| {label} | {scores[label]:.4f} | {stats['epochs_trained']} | "
            f"{stats['training_seconds']:.0f} |",
            flush=True,
        )

    best = sorted(scores, key=scores.get, reverse=True)[: args.confirm]
    confirm = list(dict.fromkeys([*best, "music sg (default sweep)"]))
    print(f"\nall training playlists: {len(full_index):,} tracks; budget {args.budget:.0f} s\n")
    print("| setting (in·out scoring) | validation HR@10 | epochs in budget | train s |")
    print("|---|---|---|---|")
    print(f"| co-occurrence ±5 (reference) | {reference:.4f} | — | — |")
    for label in confirm:
        params = Word2VecParams(**(MUSIC | SETTINGS[label] | {"max_training_seconds": args.budget}))
        model, stats = fit_word2vec(train, full_index, params)
        hit_rate = evaluate(model, queries, evaluation)["hit_rate_at_10"]
        print(
            f"| {label} | {hit_rate:.4f} | {stats['epochs_trained']} | "
            f"{stats['training_seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
