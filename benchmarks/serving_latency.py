"""Benchmark: what one request costs the served model, for every kind of candidate.

For each shipped kind — most popular, co-occurrence, transitions, kNN, iALS, EASE, the blend,
word2vec (in·out) — it takes the
recommender the full-size benchmark fitted (``benchmarks/.work/full_size/data/05_models``, made
by ``benchmarks/full_size.py``; random word2vec vectors over a synthetic catalog when absent),
exports the SavedModel exactly as the deployment pipeline does, and times its
``serving_default`` signature at batch 1 on real requests: held-out playlists' tracks as the
seeds (``validation_queries``, up to 50 seeds) and single seeds. Beside it:

- numpy: the evaluation's own ``rank`` on the same request (what the parity check compares);
- the floor: the bytes that request must read — every item vector for word2vec (4·N·d), the
  seeds' rows of the graph (8 bytes a non-zero) for the graph kinds, the known seeds' dense
  rows for EASE (4 bytes × the tracks it models), K + n entries for popularity — divided by the single-thread memory bandwidth measured here.

Usage (from the project root, after `make setup` and `benchmarks/full_size.py`; ~5 minutes):
    .venv/bin/python benchmarks/serving_latency.py [--models DIR] [--requests 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import WORKDIR  # noqa: E402
from music_recsys.core.catalog import Query, TrackIndex  # noqa: E402
from music_recsys.kinds.blend.model import Blend  # noqa: E402
from music_recsys.kinds.ease import Ease  # noqa: E402
from music_recsys.kinds.embedding import Embedding  # noqa: E402
from music_recsys.kinds.item_graph import ItemGraph  # noqa: E402
from music_recsys.kinds.playlist_knn import PlaylistKnn  # noqa: E402
from music_recsys.serving.model import INPUT_SIGNATURE, build_serving_model

K = 10
KINDS = (
    "most_popular",
    "cooccurrence",
    "transitions",
    "ease",
    "playlist_knn",
    "ials",
    "blend",
    "w2v_music_sg_inout",
)


def bandwidth_bytes_per_second() -> float:
    """Single-thread memory bandwidth: best of five copies of a 512 MB array (read + write)."""
    source = np.ones(512 * 2**20 // 8)
    target = np.empty_like(source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(5))
    return 2 * source.nbytes / best


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def synthetic_embedding(n: int, dim: int = 50) -> Embedding:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    index = TrackIndex(
        np.array([f"artist {i % 5000}|||track {i}" for i in range(n)], dtype=object),
        np.arange(n, 0, -1),
    )
    return Embedding(
        index,
        name="synthetic",
        query_vectors=vectors,
        item_vectors=vectors,
        has_vector=np.ones(n, dtype=bool),
        scoring="in_out",
    )


def floor_bytes(model, query: Query) -> int:
    """What answering ``query`` must at least read from memory."""
    if isinstance(model, Embedding):
        return model.item_vectors.nbytes + 4 * model.query_vectors.shape[1] * len(query.indices)
    if isinstance(model, ItemGraph):
        degrees = model.graph.indptr[query.indices + 1] - model.graph.indptr[query.indices]
        return int(8 * degrees.sum() + 16 * len(query.indices))
    if isinstance(model, PlaylistKnn):
        # The seeds' playlists, then the nearest playlists' tracks (one index each).
        degrees = model.by_track.indptr[query.indices + 1] - model.by_track.indptr[query.indices]
        near = model.similarities([query]).indices
        lengths = model.playlists.indptr[near + 1] - model.playlists.indptr[near]
        return int(4 * degrees.sum() + 4 * lengths.sum() + 16 * len(query.indices))
    if isinstance(model, Ease):
        # The known seeds' rows of its dense weight matrix (float32).
        return int(4 * model.modelled * len(model.known(query).indices) + 16 * len(query.indices))
    if isinstance(model, Blend):
        return sum(floor_bytes(component, query) for component in model.components)
    return 4 * (K + len(query.indices))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=WORKDIR / "full_size/data/05_models")
    parser.add_argument("--requests", type=int, default=50, help="requests per kind and shape")
    parser.add_argument("--repeats", type=int, default=5, help="timings per request")
    args = parser.parse_args()

    queries_path = args.models.parent / "04_model_input/validation_queries.parquet"
    bandwidth = bandwidth_bytes_per_second()
    print(
        f"\nsingle-thread memory bandwidth: {bandwidth / 1e9:.1f} GB/s; {os.cpu_count()} cores; "
        f"K = {K}; models from {args.models}\n"
    )
    print(
        "| kind | catalog | request | SavedModel p50 ms | p99 ms | numpy rank p50 ms | p99 ms "
        "| floor p50 ms | SavedModel / floor |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in KINDS:
        path = args.models / kind / "recommender.pkl"
        if path.exists():
            with path.open("rb") as file:
                model = pickle.load(file)  # noqa: S301 - our own benchmark output
        elif kind.startswith("w2v"):
            model = synthetic_embedding(1_000_000)
        else:
            continue
        track_ids = model.index.track_ids
        rng = np.random.default_rng(1)
        if queries_path.exists():
            frame = pd.read_parquet(queries_path)
            picked = rng.choice(len(frame), size=min(args.requests, len(frame)), replace=False)
            playlists = [list(frame["query"].iloc[i]) for i in picked]
        else:
            playlists = [
                track_ids[rng.integers(len(track_ids), size=20)].tolist()
                for _ in range(args.requests)
            ]
        shapes = {
            "1 seed": [[p[-1]] for p in playlists],
            "playlist (≤ 50 seeds)": playlists,
        }
        with tempfile.TemporaryDirectory() as folder:
            build_serving_model(model, K).export(
                folder, format="tf_saved_model", input_signature=INPUT_SIGNATURE, verbose=False
            )
            serve = tf.saved_model.load(folder).signatures["serving_default"]
            for shape, requests in shapes.items():
                # One side at a time: numpy's BLAS threads spin for a while after a call and
                # would slow TensorFlow's next one if the two alternated.
                tensors = [tf.constant([seeds]) for seeds in requests]
                queries = [Query.of(model.index.lookup(seeds), 1.0) for seeds in requests]
                serve(seed_track_ids=tensors[0])  # warm
                served = [
                    _timed(lambda t=tensor, f=serve: f(seed_track_ids=t))
                    for tensor in tensors
                    for _ in range(args.repeats)
                ]
                ranked = [
                    _timed(lambda q=query, m=model: m.rank([q], K))
                    for query in queries
                    for _ in range(args.repeats)
                ]
                floors = [floor_bytes(model, query) / bandwidth for query in queries]
                s50, s99 = np.percentile(served, [50, 99]) * 1e3
                r50, r99 = np.percentile(ranked, [50, 99]) * 1e3
                f50 = float(np.median(floors)) * 1e3
                print(
                    f"| {kind} | {len(track_ids):,} | {shape} | {s50:.2f} | {s99:.2f} | "
                    f"{r50:.2f} | {r99:.2f} | {f50:.3f} | {s50 / max(f50, 1e-9):,.1f}× |",
                    flush=True,
                )
    print("\ntarget at batch 1: within 2× the floor, or the distance stated.")


if __name__ == "__main__":
    main()
