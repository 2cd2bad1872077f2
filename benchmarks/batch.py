"""Benchmark: next tracks for every playlist of the full-size file, DuckDB beside Spark local[2].

Over the full-size run that ``benchmarks/full_size.py`` leaves in ``benchmarks/.work/full_size``
(its primary layer, 12.4 M rows in 157 k playlists, and its deployed recommender), it runs, each
as its own process in a scratch copy of the project with only those two files copied in:

1. ``kedro run --pipelines batch`` (DuckDB, conf/base);
2. ``kedro run --pipelines batch --env spark`` over the same Parquet (Spark ``local[2]``, the
   same ranking in ``mapInPandas``; skip with ``--engines duckdb``);

and measures each process's wall time, the peak RSS of its process tree (Spark's JVM and Python
workers included, sampled with psutil), and the nodes' times from the run profile. Then it checks
that both wrote the same rows (every playlist, the same track ids in the same order; scores
equal) and that the package's endpoint (``LocalEndpoint``: the handler and the SavedModel)
answers a sample of playlists as the batch did.

Usage (from the project root, after `make setup`, `make scale`, and a full-size run):
    .venv/bin/python benchmarks/batch.py [--engines duckdb spark] [--endpoint-sample 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import ENVIRONMENT, PROJECT, WORKDIR, scratch_project
from spark import JAVA_17, sampled_run

FULL_SIZE_RUN = WORKDIR / "full_size"
NEEDED = ("data/03_primary/playlist_tracks.parquet", "data/09_deployment/deployed_recommender.pkl")
TARGET = {"seconds": 300, "gb": 4.0}  # DuckDB, every playlist of the full-size file, 2 cores
OUTPUT = {
    "duckdb": "data/07_model_output/batch_recommendations.parquet",
    "spark": "data/07_model_output/batch_recommendations.spark",
}


def prepare(source: Path) -> Path:
    project = scratch_project(WORKDIR, "batch_bench")
    shutil.copytree(PROJECT / "conf/spark", project / "conf/spark")
    for name in NEEDED:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, project / name)
    return project


def run_engine(project: Path, engine: str) -> dict:
    arguments = ["--pipelines", "batch"]
    env = ENVIRONMENT | {"COLUMNS": "200"}
    if engine == "spark":
        arguments += ["--env", "spark", "--params", f"batch_input={NEEDED[0]}"]
        if "JAVA_HOME" not in env and JAVA_17.exists():
            env["JAVA_HOME"] = str(JAVA_17)
    log = WORKDIR / f"batch_bench_{engine}.log"
    kedro = str(Path(sys.executable).parent / "kedro")
    result = sampled_run([kedro, "run", *arguments], project, env, log)
    result["load_average"] = round(os.getloadavg()[0], 1)
    if result["returncode"]:
        raise RuntimeError(f"{engine}: kedro run failed; see {log}")
    profile = json.loads(
        sorted(project.glob("mlruns/*/*/artifacts/run_profile.json"), key=os.path.getmtime)[
            -1
        ].read_text()
    )
    result["nodes"] = {
        n["node"].removesuffix("_node"): round(n["seconds"], 1) for n in profile["nodes"]
    }
    summary = json.loads((project / "data/07_model_output/batch/summary.json").read_text())
    result["playlists"] = summary["playlists"]
    result["fell_back"] = summary["fell_back_to_popular"]
    return result


def read(project: Path, engine: str) -> pd.DataFrame:
    frame = pd.read_parquet(project / OUTPUT[engine])
    return frame.sort_values(["playlist_id", "rank"], ignore_index=True)


def endpoint_check(project: Path, source: Path, rows: pd.DataFrame, n: int) -> dict:
    """The package's endpoint asked for ``n`` random playlists: the same answers?"""
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415 - TensorFlow

    queries = pd.read_parquet(project / "data/07_model_output/batch/queries.parquet")
    sample = queries.sample(n, random_state=0)
    started = time.perf_counter()
    with LocalEndpoint(source / "data/09_deployment/model.tar.gz") as endpoint:
        predictions = []
        for start in range(0, n, 100):
            part = sample["seeds"].iloc[start : start + 100]
            predictions += endpoint.predict({"instances": [list(s) for s in part]})["predictions"]
    mismatches, worst = 0, 0.0
    by_playlist = dict(tuple(rows.groupby("playlist_id")))
    for playlist_id, answer in zip(sample["playlist_id"], predictions, strict=True):
        mine = by_playlist[playlist_id]
        tracks = [t for t in answer["track_ids"] if t]
        scores = np.array(
            [s for s, t in zip(answer["scores"], answer["track_ids"], strict=True) if t]
        )
        if mine["track_id"].tolist() != tracks:
            mismatches += 1
        else:
            worst = max(worst, float(np.abs(mine["score"].to_numpy() - scores).max(initial=0)))
    return {
        "sample": n,
        "mismatches": mismatches,
        "max_score_difference": worst,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    parser.add_argument("--endpoint-sample", type=int, default=200)
    parser.add_argument("--source", type=Path, default=FULL_SIZE_RUN)
    args = parser.parse_args()
    missing = [name for name in NEEDED if not (args.source / name).exists()]
    if missing:
        sys.exit(
            f"{args.source} lacks {', '.join(missing)}: run benchmarks/full_size.py first "
            "(its default run and deployment)."
        )
    project = prepare(args.source)
    results = {engine: run_engine(project, engine) for engine in args.engines}
    print(
        f"\nEvery playlist of {args.source} ({results[args.engines[0]]['playlists']:,}), 2 cores:"
    )
    print(f"{'engine':<16}{'wall s':>8}{'peak GB':>9}{'playlists/s':>13}  nodes (s)")
    for engine, result in results.items():
        label = "DuckDB" if engine == "duckdb" else "Spark local[2]"
        rate = result["playlists"] / result["wall_s"]
        print(
            f"{label:<16}{result['wall_s']:>8.0f}{result['peak_tree_gb']:>9.2f}{rate:>13,.0f}  "
            + ", ".join(f"{k} {v}" for k, v in result["nodes"].items())
        )
    duck = results.get("duckdb")
    if duck:
        met = duck["wall_s"] <= TARGET["seconds"] and duck["peak_tree_gb"] <= TARGET["gb"]
        print(
            f"target (DuckDB ≤ {TARGET['seconds']} s, ≤ {TARGET['gb']} GB): "
            + ("met" if met else "MISSED")
        )
    frames = {engine: read(project, engine) for engine in args.engines}
    if len(frames) == 2:
        left, right = frames["duckdb"], frames["spark"]
        same = len(left) == len(right) and (
            left[["playlist_id", "rank", "track_id"]].equals(
                right[["playlist_id", "rank", "track_id"]]
            )
        )
        gap = float(np.abs(left["score"] - right["score"]).max()) if same else float("nan")
        print(
            f"DuckDB and Spark rows: {'the same' if same else 'DIFFERENT'} ({len(left):,} rows; "
            f"largest score difference {gap:.1e}); Spark/DuckDB time {results['spark']['wall_s'] / duck['wall_s']:.2f}x"
        )
        results["same_rows"] = same
    if args.endpoint_sample:
        check = endpoint_check(project, args.source, frames[args.engines[0]], args.endpoint_sample)
        print(
            f"endpoint (handler + SavedModel) on {check['sample']} random playlists: "
            f"{check['mismatches']} mismatches, largest score difference "
            f"{check['max_score_difference']:.1e}"
        )
        results["endpoint"] = check
    (WORKDIR / "batch_bench.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
