"""Benchmark: latency of the exported serving model beside numpy and the memory-bandwidth floor.

For catalogs of 100 k and 1 M tracks with 64-dimensional vectors (a word2vec recommender with
random vectors), it exports the SavedModel exactly as the deployment pipeline does, loads it
and times its ``serving_default`` signature at batch 1 and batch 256 (p50 / p99 of repeated
calls), beside:

- numpy brute force on the same vectors: query vector, ``V @ q``, top-10 by ``argpartition``;
- the memory-bandwidth floor: every request must read the item vectors once, 4·N·d bytes,
  at the bandwidth measured here (a large array copy, single thread).

Usage (from the project root, after `make setup`; ~3 minutes):
    .venv/bin/python benchmarks/serving_latency.py [--sizes 100000 1000000] [--repeats 50]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from music_recsys.pipelines.data_science.recommenders import Embedding, TrackIndex  # noqa: E402
from music_recsys.pipelines.deployment.serving_model import INPUT_SIGNATURE, build_serving_model  # noqa: E402

DIM = 64
K = 10


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


def percentiles(function, repeats: int) -> tuple[float, float]:
    function()  # warm up
    times = [_timed(function) for _ in range(repeats)]
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def recommender(n: int, rng: np.random.Generator) -> Embedding:
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = TrackIndex(
        np.array([f"artist {i % 5000}|||track {i}" for i in range(n)], dtype=object),
        np.arange(n, 0, -1),
    )
    return Embedding(
        index, query_vectors=vectors, item_vectors=vectors, has_vector=np.ones(n, dtype=bool)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    bandwidth = bandwidth_bytes_per_second()
    print(
        f"\nmeasured single-thread memory bandwidth: {bandwidth / 1e9:.1f} GB/s; {os.cpu_count()} cores; K = {K}\n"
    )
    print(
        "| catalog | batch | SavedModel p50 ms | p99 ms | numpy brute force p50 ms | p99 ms | floor ms | SavedModel / floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        model = recommender(n, rng)
        with tempfile.TemporaryDirectory() as folder:
            build_serving_model(model, K, 1.0).export(
                folder, format="tf_saved_model", input_signature=INPUT_SIGNATURE, verbose=False
            )
            serve = tf.saved_model.load(folder).signatures["serving_default"]
            floor = 4 * n * DIM / bandwidth * 1e3
            for batch in (1, 256):
                seeds = model.index.track_ids[rng.integers(n, size=(batch, 3))].tolist()
                tensor = tf.constant(seeds)
                ids = np.array([[int(s.rsplit(" ", 1)[1]) for s in row] for row in seeds])

                def brute_force(ids=ids, model=model):
                    query = model.query_vectors[ids].sum(axis=1)
                    query /= np.linalg.norm(query, axis=1, keepdims=True)
                    scores = query @ model.item_vectors.T
                    np.put_along_axis(scores, ids, -np.inf, axis=1)
                    return np.argpartition(-scores, K, axis=1)[:, :K]

                served = percentiles(
                    lambda tensor=tensor, serve=serve: serve(seed_track_ids=tensor), args.repeats
                )
                numpy = percentiles(brute_force, args.repeats)
                print(
                    f"| {n:,} | {batch} | {served[0]:.1f} | {served[1]:.1f} | {numpy[0]:.1f} | {numpy[1]:.1f} | "
                    f"{floor:.1f} | {served[0] / floor:.1f}× |",
                    flush=True,
                )
    print(
        "\ntarget at batch 1: within 2× the floor. The floor counts one pass over the item vectors per batch."
    )


if __name__ == "__main__":
    main()
