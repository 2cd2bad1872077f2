"""Benchmark: the product's main job at the size it is for, node by node.

Generates (once, cached in ``benchmarks/.work/``) a file of the real Spotify file's shape with the
project's own demo generator — 12.4 M rows, 157 k playlists, 16 k users, ~1 M tracks — and runs,
each as its own process in a scratch copy of the project (so ``data/`` and ``mlflow.db`` are left
alone):

1. ``kedro run --pipelines data_processing`` (its target is for the whole process);
2. the default ``kedro run`` (data_processing, data_science, reporting);
3. ``kedro run --pipelines deployment``.

It prints the wall time and peak memory (RSS) of each process, of each pipeline (the sum of
its nodes' times, the largest of their peaks: the default run interleaves them) and of each
node, from the run profile that ``NodeProfileHook`` leaves in MLflow (``run_profile.json``);
then the catalog size, the candidates with their fit and evaluation times, the package size,
and each target met or missed by how much.

Usage (from the project root, after `make setup`; ~25 minutes, plus ~3 to generate the file):
    .venv/bin/python benchmarks/full_size.py [--shape real] [--file path.csv] [--skip data_processing]
    # the deployment alone, on new code, over the last run's data (~2 minutes):
    .venv/bin/python benchmarks/full_size.py --skip data_processing default --reuse
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from common import (
    ENVIRONMENT,
    SHAPES,
    WORKDIR,
    generated_file,
    kedro_profiled,
    print_tuning,
    python_result,
    scratch_project,
)

TARGETS = {  # wall seconds, peak GB (None: no target)
    "data_processing (alone)": (60, None),
    "kedro run (default)": (20 * 60, 8.0),
    "kedro run --pipelines deployment": (5 * 60, 6.0),
}
PACKAGE_TARGET_GB = 1.0

_MEMBERSHIP = """
import json
from pathlib import Path
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path.cwd())
from kedro.framework.project import pipelines
print("PIPELINES " + json.dumps({name: [n.name for n in pipelines[name].nodes]
    for name in ("data_processing", "data_science", "reporting", "deployment")}))
"""


def pipeline_membership(project: Path) -> dict[str, list[str]]:
    return python_result(_MEMBERSHIP, project, "PIPELINES")


def _gb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _verdict(wall: float, peak: float | None, target: tuple[float, float | None]) -> str:
    seconds, gigabytes = target
    parts = []
    parts.append(
        f"time met ({wall / seconds:.0%} of {seconds:.0f} s)"
        if wall <= seconds
        else f"time MISSED by {wall - seconds:.1f} s ({wall / seconds - 1:.0%})"
    )
    if gigabytes is not None and peak is not None:
        parts.append(
            f"memory met ({peak:.1f} of {gigabytes:.0f} GB)"
            if peak <= gigabytes
            else f"memory MISSED by {peak - gigabytes:.1f} GB"
        )
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="real", choices=sorted(SHAPES))
    parser.add_argument("--file", type=Path, help="use this file instead of generating one")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["data_processing", "default", "deployment"]
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the scratch project's data from the last run (with --skip: rerun only "
        "what changed, e.g. --skip data_processing default --reuse reruns the deployment)",
    )
    args = parser.parse_args()

    path = (args.file or generated_file(1.0, args.workdir, args.shape)).resolve()
    project = scratch_project(args.workdir, "full_size", reuse=args.reuse)
    logs = args.workdir / "full_size_logs"
    logs.mkdir(parents=True, exist_ok=True)
    raw = ["--params", f"raw_data_path={path}"]
    runs: dict[str, dict] = {}
    if "data_processing" not in args.skip:
        runs["data_processing (alone)"] = kedro_profiled(
            project, ["--pipelines", "data_processing", *raw], logs / "data_processing.log"
        )
    if "default" not in args.skip:
        runs["kedro run (default)"] = kedro_profiled(project, raw, logs / "default.log")
    if "deployment" not in args.skip:
        runs["kedro run --pipelines deployment"] = kedro_profiled(
            project, ["--pipelines", "deployment", *raw], logs / "deployment.log"
        )
    membership = pipeline_membership(project)
    print_runs(path, runs, membership)
    print_candidates_and_package(project)
    if (project / "data/09_deployment/model.tar.gz").exists():
        print_recommend_timings(project, args.workdir / "recommend_cache")
    print(f"\nlogs: {logs}")


def print_recommend_timings(project: Path, cache: Path) -> None:
    """``music-recsys recommend`` on the full-size package: first call, then warm ones."""
    import shutil  # noqa: PLC0415

    shutil.rmtree(cache, ignore_errors=True)
    queries = pd.read_parquet(project / "data/04_model_input/validation_queries.parquet")
    seeds = list(queries["query"].iloc[0][:3])
    command = [str(Path(sys.executable).parent / "music-recsys"), "recommend", *seeds]
    unknown = seeds[0].split("|||")[0] + "|||" + seeds[0].split("|||")[1][:-2] + "xx"
    cases = [
        ("first call (extract, TensorFlow, cache the arrays)", command),
        ("second call (cached arrays, no TensorFlow)", command),
        ("third call", command),
        ("an unknown seed: 'did you mean' over the catalog", [*command[:2], unknown]),
        ("--serving-model (the SavedModel, every time)", [*command, "--serving-model"]),
    ]
    print("\n| `music-recsys recommend` on the full-size package | wall s |")
    print("|---|---|")
    for label, arguments in cases:
        started = time.perf_counter()
        completed = subprocess.run(
            arguments,
            cwd=project,
            env=ENVIRONMENT | {"MUSIC_RECSYS_CACHE": str(cache)},
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if completed.returncode:
            raise RuntimeError(f"{arguments} failed:\n{completed.stderr[-2000:]}")
        print(f"| {label} | {wall:.1f} |")


def print_runs(path: Path, runs: dict[str, dict], membership: dict[str, list[str]]) -> None:
    rows = sum(1 for _ in path.open(encoding="utf-8", errors="replace")) - 1
    print(f"\nfile: {path.name} ({path.stat().st_size / 1e9:.2f} GB, {rows:,} rows); ", end="")
    print(f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")

    print("| run | wall s | peak RSS GB | child processes' peak GB | target |")
    print("|---|---|---|---|---|")
    for name, run in runs.items():
        profile = run["profile"]
        print(
            f"| `{name}` | {run['wall']:.1f} | {_gb(profile['peak_rss_gb'])} | "
            f"{_gb(profile['children_peak_rss_gb'])} | "
            f"{_verdict(run['wall'], profile['peak_rss_gb'], TARGETS[name])} |"
        )

    print("\n| pipeline (in the run) | nodes | node time s | largest node peak GB |")
    print("|---|---|---|---|")
    nodes = []
    for name, run in runs.items():
        for node in run["profile"]["nodes"]:
            pipeline = next((p for p, names in membership.items() if node["node"] in names), "?")
            nodes.append({"run": name, "pipeline": pipeline, **node})
        start = run["profile"]["start_up_peak_rss_gb"]
        print(f"| {name}: start-up (imports, catalog) | — | — | {_gb(start)} |")
        frame = pd.DataFrame([n for n in nodes if n["run"] == name])
        for pipeline, group in frame.groupby("pipeline", sort=False):
            print(
                f"| {name}: {pipeline} | {len(group)} | {group['seconds'].sum():.0f} | "
                f"{group['peak_rss_gb'].max():.2f} |"
            )

    print("\n| run | node | s | peak RSS GB |")
    print("|---|---|---|---|")
    for node in sorted(nodes, key=lambda n: -n["seconds"]):
        if node["seconds"] >= 1.0:
            print(
                f"| {node['run']} | `{node['node']}` | {node['seconds']:.1f} | "
                f"{_gb(node['peak_rss_gb'])} |"
            )


def print_candidates_and_package(project: Path) -> None:
    results_path = project / "data/07_model_output/model_results.csv"
    if results_path.exists():
        results = pd.read_csv(results_path)
        catalog = len(pd.read_parquet(project / "data/04_model_input/track_index.parquet"))
        validation = results[results["split"] == "validation"]
        print(f"\ncatalog: {catalog:,} tracks; candidates: {len(validation)}\n")
        print(
            "| candidate | kind | validation HR@10 ± SE | fit s | shared training | epochs | "
            "evaluation s | selected | notes |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for row in validation.sort_values("hit_rate_at_10", ascending=False).itertuples():
            epochs = (
                "—"
                if pd.isna(row.epochs_trained)
                else f"{row.epochs_trained:.0f} of {row.epochs_configured:.0f}"
            )
            shared = row.fit_shared_with if isinstance(row.fit_shared_with, str) else ""
            notes = row.notes if isinstance(row.notes, str) else ""
            print(
                f"| {row.candidate} | {row.kind} | {row.hit_rate_at_10:.4f} ± "
                f"{row.hit_rate_at_10_se:.4f} | {row.fit_seconds:.1f} | {shared} | {epochs} | "
                f"{row.evaluation_seconds:.1f} | {'**yes**' if row.selected else ''} | {notes} |"
            )
        selection = json.loads((project / "data/07_model_output/model_selection.json").read_text())
        print(f"\nselection ({selection['rule']}): {selection['explanation']}")
        print_tuning(project / "data")
    package = project / "data/09_deployment/model.tar.gz"
    if package.exists():
        size = package.stat().st_size / 2**30
        check = json.loads((project / "data/09_deployment/serving_check.json").read_text())
        info = json.loads((project / "data/09_deployment/deployment_info.json").read_text())
        verdict = (
            "met" if size <= PACKAGE_TARGET_GB else f"MISSED by {size - PACKAGE_TARGET_GB:.2f}"
        )
        print(
            f"\npackage: {info['candidate']} refit on all playlists ({info['catalog_tracks']:,} "
            f"tracks), model.tar.gz {size:.2f} GB (target {PACKAGE_TARGET_GB:.0f} GB: {verdict}); "
            f"parity {check['parity_queries']} queries, {check['mismatches']} mismatches, "
            f"{check['equal_score_swaps']} swaps of equal scores"
        )


if __name__ == "__main__":
    main()
