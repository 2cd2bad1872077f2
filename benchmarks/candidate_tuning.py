"""Benchmark: playlist-kNN, iALS, EASE and co-occurrence settings on a validation split.

Reads the split and validation queries that ``benchmarks/quality.py`` left in its scratch
project (``benchmarks/.work/quality_<scenario>``), fits each setting with the kind's own fit and
scores it with the pipeline's evaluation — validation only: the test split stays untouched —
and prints validation HR@10 ± SE and the seconds each took. This is how the defaults in
``conf/base/parameters_data_science.yml`` were chosen.

Usage (after ``benchmarks/quality.py``; about 2 minutes):
    .venv/bin/python benchmarks/candidate_tuning.py [--scenario continuation]
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from common import WORKDIR
from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import FitInputs, cooccurrence, ease, ials, playlist_knn

GRID = [
    (playlist_knn, {"neighbours": 100, "vote_exponent": 1.0}),
    (playlist_knn, {"neighbours": 200, "vote_exponent": 1.0}),
    (playlist_knn, {"neighbours": 500, "vote_exponent": 1.0}),
    (playlist_knn, {"neighbours": 100, "similarity": "jaccard", "vote_exponent": 1.0}),
    (playlist_knn, {"neighbours": 200, "idf": True, "vote_exponent": 1.0}),
    (playlist_knn, {"neighbours": 500, "vote_exponent": 2.0}),
    (playlist_knn, {"neighbours": 500, "vote_exponent": 3.0}),
    (playlist_knn, {"neighbours": 500, "vote_exponent": 5.0}),
    (ials, {"factors": 64, "regularization": 0.01, "alpha": 1.0, "iterations": 15}),
    (ials, {"factors": 128, "regularization": 0.05, "alpha": 10.0, "iterations": 15}),
    (ials, {"factors": 64, "regularization": 0.05, "alpha": 10.0, "iterations": 8}),
    (ials, {"factors": 64, "regularization": 0.5, "alpha": 10.0, "iterations": 8}),
    (ease, {"regularization": 100.0}),
    (ease, {"regularization": 250.0}),
    (ease, {"regularization": 500.0}),
    (ease, {"regularization": 1000.0}),
    (ease, {"regularization": 250.0, "max_tracks": 1000}),
    (cooccurrence, {"window": 5}),
    (cooccurrence, {"window": 10}),
    (cooccurrence, {"window": None}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="continuation")
    args = parser.parse_args()
    data = WORKDIR / f"quality_{args.scenario}" / "data/04_model_input"
    if not data.exists():
        parser.error(f"{data} does not exist: run benchmarks/quality.py first")
    train = relation(pd.read_parquet(data / "playlists_train.parquet"))
    index = pd.read_parquet(data / "track_index.parquet")
    queries = pd.read_parquet(data / "validation_queries.parquet")
    protocol = pd.read_json(data / "evaluation_protocol.json", typ="series")["protocol"]
    evaluation = EvaluationParams(protocol=protocol, k=(10,), selection_metric="hit_rate_at_10")
    order = json.loads((data.parent / "03_primary/track_order_report.json").read_text())
    print(f"\n{args.scenario}: {len(queries)} validation queries\n")
    print("| kind | settings | validation HR@10 ± SE | fit + evaluation s |")
    print("|---|---|---|---|")
    for module, settings in GRID:
        started = time.perf_counter()
        inputs = FitInputs(train, index, order, name=module.KIND.name)
        model = module.fit(inputs, module.KIND.settings(**settings)).recommender
        metrics, _ = evaluate(model, queries, evaluation)
        print(
            f"| {module.KIND.name} | {settings} | {metrics['hit_rate_at_10']:.4f} ± "
            f"{metrics['hit_rate_at_10_se']:.4f} | {time.perf_counter() - started:.1f} |"
        )


if __name__ == "__main__":
    main()
