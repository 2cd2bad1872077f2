"""Benchmark: the data_processing pipeline on Spark ``local[2]`` beside DuckDB, same file, same nodes.

For each size — ``1m`` (the ``real`` shape of ``benchmarks/common.py`` at scale 0.08: 925 k rows)
and ``full`` (the ``real`` shape at full size: 12.4 M rows, 157 k playlists, ~1 M tracks, the
file ``full_size.py`` uses) — it runs, each as its own process in its own scratch copy of the
project (so the project's data/ and mlflow.db are left alone):

- ``kedro run --pipelines data_processing`` (DuckDB, conf/base);
- ``kedro run --env spark --pipelines data_processing`` (Spark ``local[2]``, conf/spark: driver
  memory 4g, 8 shuffle partitions);

and measures the wall time of the whole process, the pipeline's own time (from the run profile
that ``NodeProfileHook`` leaves in MLflow: the first node's start to the last node's end) and the
peak memory of the whole process tree — Spark's JVM is a child of the Python process, so the RSS
of the process and all its descendants is summed, sampled every 0.5 s with psutil (pages shared
between processes count once per process, so this is an upper bound). Then it checks that the two
engines wrote the same tables: row counts and a content checksum of ``playlist_tracks``,
``playlists``, ``tracks`` and each split (DuckDB's ``*.parquet`` files and Spark's ``*.spark/``
folders, both read with DuckDB), and the row accounting and split summary (written by both).

It prints a table (size, rows, engine, wall s, pipeline s, peak GB, Spark/DuckDB ratios) and the
agreement, and writes them to ``benchmarks/.work/spark_vs_duckdb.json``.

Needs the ``scale`` extra (pyspark) and Java 17+ (``JAVA_HOME``; defaults to
``/usr/lib/jvm/java-17-openjdk-amd64`` where that exists). The full-size Spark run takes
10-30 minutes on 2 cores.

Usage (from the project root, after `make setup` and `make scale`):
    .venv/bin/python benchmarks/spark.py [--sizes 1m full] [--engines duckdb spark]
        [--file path.csv] [--spark-driver-memory 8g]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from common import ENVIRONMENT, PROJECT, WORKDIR, generated_file, scratch_project

SIZES = {"1m": 0.08, "full": 1.0}  # scale of the ``real`` shape
SHAPE = "real"
ENGINES = ("duckdb", "spark")
JAVA_17 = Path("/usr/lib/jvm/java-17-openjdk-amd64")
SAMPLE_SECONDS = 0.5

# Tables both engines write, where each writes them (DuckDB: a file; Spark: a folder of parts),
# and the columns a checksum covers (cast, so both engines' types hash alike).
TABLES = {
    "playlist_tracks": (
        "data/03_primary/playlist_tracks",
        "playlist_id::BIGINT, position::BIGINT, track_id::VARCHAR, line_number::BIGINT",
    ),
    "playlists": (
        "data/03_primary/playlists",
        "playlist_id::BIGINT, user_id::VARCHAR, playlistname::VARCHAR, n_tracks::BIGINT",
    ),
    "tracks": (
        "data/03_primary/tracks",
        "track_id::VARCHAR, artistname::VARCHAR, n_rows::BIGINT, n_playlists::BIGINT",
    ),
    **{
        f"playlists_{split}": (
            f"data/04_model_input/playlists_{split}",
            "playlist_id::BIGINT, position::BIGINT, track_id::VARCHAR",
        )
        for split in ("train", "validation", "test")
    },
}


def sampled_run(command: list[str], cwd: Path, env: dict, log: Path) -> dict:
    """Runs ``command``; its wall time and the peak RSS of its process tree (summed)."""
    peak = {"tree": 0, "python": 0, "jvm": 0}
    with log.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        done = threading.Event()

        def sample() -> None:
            try:
                root = psutil.Process(process.pid)
            except psutil.NoSuchProcess:
                return
            while not done.is_set():
                try:
                    members = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    break
                total = jvm = 0
                for member in members:
                    try:
                        rss = member.memory_info().rss
                        name = member.name()
                    except psutil.NoSuchProcess:
                        continue
                    total += rss
                    if name == "java":
                        jvm += rss
                    if member.pid == root.pid:
                        peak["python"] = max(peak["python"], rss)
                peak["tree"] = max(peak["tree"], total)
                peak["jvm"] = max(peak["jvm"], jvm)
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = process.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    return {
        "returncode": returncode,
        "wall_s": wall,
        "peak_tree_gb": peak["tree"] / 1e9,
        "peak_python_gb": peak["python"] / 1e9,
        "peak_jvm_gb": peak["jvm"] / 1e9,
    }


def prepare_project(workdir: Path, name: str, driver_memory: str | None) -> tuple[Path, list[str]]:
    """A scratch project with conf/spark (and, for a bigger driver, conf/spark_big: a copy of
    conf/spark with ``spark.driver.memory`` replaced, in the scratch copy only); the ``--env``
    arguments of its Spark run."""
    project = scratch_project(workdir, name)
    shutil.copytree(PROJECT / "conf/spark", project / "conf/spark")
    if not driver_memory:
        return project, ["--env", "spark"]
    big = project / "conf/spark_big"
    shutil.copytree(project / "conf/spark", big)
    spark_yml = big / "spark.yml"
    lines = [
        f"spark.driver.memory: {driver_memory}" if line.startswith("spark.driver.memory:") else line
        for line in spark_yml.read_text().splitlines()
    ]
    spark_yml.write_text("\n".join(lines) + "\n")
    return project, ["--env", "spark_big"]


def run_engine(
    engine: str, path: Path, workdir: Path, label: str, driver_memory: str | None
) -> dict:
    project, spark_env = prepare_project(workdir, f"spark_bench_{label}_{engine}", driver_memory)
    arguments = ["--pipelines", "data_processing", "--params", f"raw_data_path={path}"]
    if engine == "spark":
        arguments = [*spark_env, *arguments]
    env = ENVIRONMENT | {"COLUMNS": "200"}
    if engine == "spark" and "JAVA_HOME" not in env and JAVA_17.exists():
        env["JAVA_HOME"] = str(JAVA_17)
    log = workdir / f"spark_bench_{label}_{engine}.log"
    kedro = str(Path(sys.executable).parent / "kedro")
    load_before = os.getloadavg()[0]
    result = sampled_run([kedro, "run", *arguments], project, env, log)
    # Other work on the machine shows in the load average (1 minute) at the end of the run.
    result["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    result |= {
        "engine": engine,
        "project": str(project),
        "log": str(log),
        "arguments": arguments,
        "source": source_fingerprint(project),
    }
    if result["returncode"]:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        result["error"] = "\n".join(tail)
        return result
    profiles = sorted(project.glob("mlruns/*/*/artifacts/run_profile.json"), key=os.path.getmtime)
    if profiles:
        profile = json.loads(profiles[-1].read_text())
        result["pipeline_s"] = profile["seconds"]
        result["python_peak_profile_gb"] = profile["peak_rss_gb"]
        result["slowest_nodes"] = [
            (n["node"].removesuffix("_node"), round(n["seconds"], 1))
            for n in sorted(profile["nodes"], key=lambda n: -n["seconds"])[:4]
        ]
    return result


def source_fingerprint(project: Path) -> str:
    """A hash of the scratch copy's source: the two engines' runs must run the same code (the
    copy is taken when each run starts)."""
    digest = hashlib.sha1()
    for path in sorted((project / "src").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def table_source(project: Path, stem: str, engine: str) -> str:
    if engine == "duckdb":
        return f"read_parquet('{project / stem}.parquet')"
    return f"read_parquet('{project / stem}.spark/*.parquet')"


def compare_outputs(runs: dict[str, dict]) -> dict:
    """Row counts and checksums of each table from both engines, and the two small reports."""
    import duckdb  # noqa: PLC0415

    projects = {engine: Path(run["project"]) for engine, run in runs.items()}
    connection = duckdb.connect()
    checks: dict[str, dict] = {}
    for name, (stem, columns) in TABLES.items():
        figures = {}
        for engine, project in projects.items():
            n, checksum = connection.execute(
                f"SELECT count(*), coalesce(sum(hash({columns})), 0)::VARCHAR "
                f"FROM {table_source(project, stem, engine)}"
            ).fetchone()
            figures[engine] = {"rows": int(n), "checksum": checksum}
        checks[name] = figures | {
            "agree": figures["duckdb"] == figures["spark"],
            "rows_agree": figures["duckdb"]["rows"] == figures["spark"]["rows"],
        }
    accounting = {
        engine: sorted(
            (project / "data/08_reporting/row_accounting.csv").read_text().splitlines()[1:]
        )
        for engine, project in projects.items()
    }
    checks["row_accounting"] = {
        "duckdb": accounting["duckdb"],
        "spark": accounting["spark"],
        "agree": accounting["duckdb"] == accounting["spark"],
    }
    summaries = {
        engine: json.loads((project / "data/04_model_input/split_summary.json").read_text())
        for engine, project in projects.items()
    }
    checks["split_summary"] = summaries | {"agree": summaries["duckdb"] == summaries["spark"]}
    return checks


def count_rows(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for _ in lines) - 1  # less the header


def ratio(runs: dict[str, dict], key: str) -> str:
    if {"duckdb", "spark"} <= runs.keys() and all(key in run for run in runs.values()):
        return f"{runs['spark'][key] / runs['duckdb'][key]:.1f}×"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--file", type=Path, help="benchmark this file (one size) instead")
    parser.add_argument(
        "--spark-driver-memory",
        help="run Spark with this driver memory (e.g. 8g) from conf/spark_big, written in the "
        "scratch copy only (the default: conf/spark as it is, 4g)",
    )
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--output", type=Path, default=WORKDIR / "spark_vs_duckdb.json")
    args = parser.parse_args()

    files = (
        {args.file.stem: args.file}
        if args.file
        else {size: generated_file(SIZES[size], args.workdir, SHAPE) for size in args.sizes}
    )
    print(f"\n{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; Spark local[2]", flush=True)
    results = []
    for label, given in files.items():
        path = given.resolve()
        rows = count_rows(path)
        print(
            f"{label}: {path.name}, {rows:,} rows, {path.stat().st_size / 1e9:.2f} GB", flush=True
        )
        runs = {}
        for engine in args.engines:
            run = run_engine(engine, path, args.workdir, label, args.spark_driver_memory)
            runs[engine] = run
            status = "failed" if run["returncode"] else "done"
            load = "/".join(f"{x:g}" for x in run["load_average"])
            print(
                f"  {engine}: {status} in {run['wall_s']:.0f} s, peak {run['peak_tree_gb']:.2f} GB"
                f", load average {load} (start/end)"
                f" (log {run['log']})",
                flush=True,
            )
            if run["returncode"]:
                print(run["error"], flush=True)
        ok = {engine: run for engine, run in runs.items() if not run["returncode"]}
        checks = compare_outputs(ok) if {"duckdb", "spark"} <= ok.keys() else {}
        if len({run["source"] for run in runs.values()}) > 1:
            print("  NOTE: the source changed between the two runs (edited meanwhile)", flush=True)
        results.append(
            {"size": label, "file": str(path), "rows": rows, "runs": runs, "checks": checks}
        )
        args.output.write_text(json.dumps(results, indent=1))

    print(
        "\n| size | rows | engine | wall s | pipeline s | peak GB (process tree) | "
        "of which JVM | Spark/DuckDB wall | Spark/DuckDB peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for result in results:
        runs = {e: r for e, r in result["runs"].items() if not r["returncode"]}
        for engine, run in result["runs"].items():
            failed = " (failed)" if run["returncode"] else ""
            pipeline = f"{run['pipeline_s']:.1f}" if "pipeline_s" in run else "n/a"
            jvm = f"{run['peak_jvm_gb']:.2f}" if engine == "spark" else "—"
            last = engine == "spark"
            print(
                f"| {result['size']} | {result['rows']:,} | {engine}{failed} | {run['wall_s']:.1f} | "
                f"{pipeline} | {run['peak_tree_gb']:.2f} | {jvm} | "
                f"{ratio(runs, 'wall_s') if last else ''} | "
                f"{ratio(runs, 'peak_tree_gb') if last else ''} |"
            )
    for result in results:
        if not result["checks"]:
            continue
        print(f"\n{result['size']}: outputs of the two engines")
        for name, check in result["checks"].items():
            verdict = "agree" if check["agree"] else "DISAGREE"
            detail = ""
            if "rows_agree" in check:
                detail = f"{check['duckdb']['rows']:,} rows"
                if not check["rows_agree"]:
                    detail = f"DuckDB {check['duckdb']['rows']:,}, Spark {check['spark']['rows']:,}"
                elif not check["agree"]:
                    detail += ", same count, different content"
            print(f"  {name}: {verdict} ({detail})" if detail else f"  {name}: {verdict}")
    print(f"\nresults: {args.output}")


if __name__ == "__main__":
    main()
