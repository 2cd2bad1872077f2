"""Helpers shared by the benchmark scripts: generated full-size files and scratch projects."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from music_recsys.datasets import PlaylistCsvDataset
from music_recsys.demo_data import DEMO_GENERATOR_VERSION, DemoDataParams, generate_demo_playlists

PROJECT = Path(__file__).resolve().parents[1]
WORKDIR = PROJECT / "benchmarks" / ".work"
# Real data that this repository may not hold (its terms forbid redistribution): where the
# maintainers keep it, beside the checkout. Scripts take a --file instead where a clone lacks it.
SHARED_DATA = PROJECT.parent / "shared" / "data"

# Generator settings for files shaped like the real one (12.9 M rows, 15.9 k users, heavy tails).
SHAPES = {
    # The real file's playlist and track counts: ~157 k playlists, ~1 M distinct tracks
    # (12.45 M rows, 1.03 M tracks, 889 k of them in the training split).
    "real": {
        "seed": 7,
        "n_users": 16_000,
        "n_playlists": 157_000,
        "n_artists": 290_000,
        "median_playlist_length": 40,
        "max_playlist_length": 5_000,
    },
    # Twice the tracks: 161 k playlists over ~2 M distinct tracks.
    "many_tracks": {
        "seed": 7,
        "n_users": 16_000,
        "n_playlists": 161_000,
        "n_artists": 620_000,
        "median_playlist_length": 40,
        "max_playlist_length": 5_000,
    },
    # More, shorter playlists over fewer tracks: ~232 k playlists, 12.8 M rows.
    "many_playlists": {
        "seed": 7,
        "n_users": 15_900,
        "n_playlists": 232_000,
        "n_artists": 290_000,
        "tracks_per_artist_max": 200,
        "median_playlist_length": 24.5,
        "playlist_length_sigma": 1.3,
        "max_playlist_length": 8_000,
    },
}
FULL_SIZE = SHAPES["many_playlists"]

ENVIRONMENT = dict(
    os.environ, KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MLFLOW_DISABLE_TELEMETRY="true"
)


def generated_file(scale: float, workdir: Path = WORKDIR, shape: str = "many_playlists") -> Path:
    """A demo file of the given shape, ``scale`` times its full size, generated once and cached."""
    settings = SHAPES[shape]
    fingerprint = hashlib.sha1(
        json.dumps([settings, scale, DEMO_GENERATOR_VERSION]).encode()
    ).hexdigest()[:8]
    path = workdir / f"spotify_like_{scale:g}_{fingerprint}.csv"
    if path.exists():
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    params = dict(settings)
    params["n_playlists"] = int(params["n_playlists"] * scale)
    params["n_users"] = max(1, int(params["n_users"] * scale))
    params["n_artists"] = max(100, int(params["n_artists"] * scale))
    started = time.perf_counter()
    table = generate_demo_playlists(DemoDataParams(path=str(path), **params))
    PlaylistCsvDataset(str(path)).save(table)
    print(
        f"generated {len(table):,} rows, {path.stat().st_size / 1e9:.2f} GB in "
        f"{time.perf_counter() - started:.0f} s: {path}"
    )
    return path


def scratch_project(workdir: Path = WORKDIR, name: str = "project", reuse: bool = False) -> Path:
    """A copy of the project's code and configuration, so benchmark runs leave data/ alone.

    ``reuse``: keep the copy's ``data/`` and MLflow store from an earlier run (e.g. to rerun
    only the deployment on new code) and refresh only its code and configuration."""
    project = workdir / name
    if reuse and project.is_dir():
        for part in ("src", "conf", "pyproject.toml"):
            target = project / part
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    else:
        shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "pyproject.toml", project)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT / "src", project / "src", ignore=ignore)
    shutil.copytree(PROJECT / "conf/base", project / "conf/base", ignore=ignore)
    (project / "conf/local").mkdir()  # local overrides and secrets stay out of the copy
    return project


def kedro_run(project: Path, *arguments: str) -> None:
    """``kedro run <arguments>`` in ``project``; raises with the log's tail if it fails."""
    kedro = Path(sys.executable).parent / "kedro"
    completed = subprocess.run(
        [str(kedro), "run", *arguments],
        cwd=project,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(
            f"kedro run failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-5000:]}"
        )


def python_result(script: str, cwd: Path, tag: str) -> dict | list:
    """Runs ``script`` in a fresh Python in ``cwd``; the JSON it prints after ``<tag> ``."""
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=False,
    )
    prefix = f"{tag} "
    for line in completed.stdout.splitlines():
        if line.startswith(prefix):
            return json.loads(line[len(prefix) :])
    raise RuntimeError(
        f"the script printed no {tag} line:\n{completed.stdout[-3000:]}\n{completed.stderr[-5000:]}"
    )


def kedro_profiled(project: Path, arguments: list[str], log: Path) -> dict:
    """Runs ``kedro run <arguments>`` in ``project``; its wall time and run profile."""
    started = time.perf_counter()
    with log.open("w") as output:
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "kedro"), "run", *arguments],
            cwd=project,
            env=ENVIRONMENT | {"COLUMNS": "200"},
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    wall = time.perf_counter() - started
    if completed.returncode:
        raise RuntimeError(f"kedro run {' '.join(arguments)} failed; see {log}")
    profiles = sorted(project.glob("mlruns/*/*/artifacts/run_profile.json"), key=os.path.getmtime)
    profile = json.loads(profiles[-1].read_text())
    return {"wall": wall, "profile": profile}


def print_tuning(data: Path, digits: int = 4) -> None:
    """The run's ``tuning_results.csv`` as a table: each tuned candidate's trials and seconds,
    the conf's and the best figure on the tuning queries, what moved, and the conf's and the
    shipped figure on validation (with the paired SE of the difference)."""
    path = data / "07_model_output/tuning_results.csv"
    if not path.exists():
        return

    def f(value: float) -> str:
        return "—" if pd.isna(value) else f"{value:.{digits}f}"

    print(
        "\n| tuned candidate | screened at the conf's (gap, paired SE) | trials planned | "
        "trials (complete / pruned) | tuning s | fit playlists | search: conf's → best | "
        "confirm: conf's → best (paired SE) | tuned | changed | "
        "validation: conf's → shipped (paired SE) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in pd.read_csv(path).itertuples():
        conf, shipped = row.conf_validation_hit_rate_at_10, row.validation_hit_rate_at_10
        paired = "" if pd.isna(row.validation_paired_se) else f" ({f(row.validation_paired_se)})"
        validation = f(shipped) if not row.tuned else f"{f(conf)} → {f(shipped)}{paired}"
        fit = "—" if pd.isna(row.fit_playlists) else f"{row.fit_playlists:,.0f}"
        changed = row.changed if isinstance(row.changed, str) else ""
        screened = (
            "—"
            if pd.isna(row.screen_value)
            else f"{f(row.screen_value)} ({f(row.screen_gap)}, {f(row.screen_paired_se)})"
        )
        guard = " (guard)" if row.cut_by_guard else ""
        print(
            f"| {row.candidate} | {screened} | {row.trials_planned} | {row.trials} "
            f"({row.complete} / {row.pruned}) | {row.tuning_seconds:.0f}{guard} | {fit} | "
            f"{f(row.conf_tuning_value)} → {f(row.best_tuning_value)} | "
            f"{f(row.conf_confirm_value)} → {f(row.best_confirm_value)}"
            f"{'' if pd.isna(row.confirm_paired_se) else f' ({f(row.confirm_paired_se)})'} | "
            f"{'yes' if row.tuned else 'no'} | {changed} | {validation} |"
        )
