"""Benchmark: the same data and conf ship the same model, however the run is run.

Tuning is counted in trials (sized from the data's shape), not seconds, so how fast the machine
is must not change what is tuned, selected or shipped. This runs the default ``kedro run`` on
the demo data twice, each in its own scratch copy of the project, and then ``kedro run
--pipelines deployment`` in each:

1. with the default sequential runner, while another process keeps one of the two cores busy
   (every trial is slower);
2. with ``music_recsys.runners.DaskRunner`` (a local cluster of two workers: the studies run
   side by side, each on one core).

It prints, for both, the run's wall time, the tuning plan (trials per candidate), each tuned
candidate's trials and shipped settings, the selection and the shipped package's candidate and
settings, and whether each is the same. word2vec's own training uses two gensim workers (not
bit-reproducible: lock-free updates); its tuning trains on one, so the plan and every study are.

Usage (from the project root, after `make scale`; ~8 minutes on 2 cores):
    .venv/bin/python benchmarks/reproducibility.py [--reuse]   # --reuse: compare the last runs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from common import WORKDIR, kedro_run, scratch_project

RUNS = {
    "sequential, a core kept busy": [],
    "DaskRunner (2 workers)": ["--runner", "music_recsys.runners.DaskRunner"],
}
TIMING = ("seconds", "fit_seconds")


@contextlib.contextmanager
def busy_core(wanted: bool):
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if wanted else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def outcome(project: Path) -> dict:
    """What a run tuned, selected and shipped (timings left out)."""
    data = project / "data"
    output = data / "07_model_output"
    plan = json.loads((data / "05_models/tuning_plan.json").read_text())
    trials, settings = {}, {}
    for folder in sorted(p for p in output.iterdir() if p.is_dir()):
        path = folder / "tuning_trials.csv"
        if path.exists():
            frame = pd.read_csv(path).drop(columns=list(TIMING), errors="ignore")
            # NaN is not equal to itself: compare the missing values as None
            trials[folder.name] = frame.astype(object).where(frame.notna(), None).to_dict("list")
        tuned = data / "05_models" / folder.name / "tuned_settings.json"
        if tuned.exists():
            settings[folder.name] = json.loads(tuned.read_text())
    shipped = json.loads((data / "09_deployment/deployment_info.json").read_text())
    return {
        "plan": {n: p["trials"] for n, p in plan["candidates"].items()},
        "trials": trials,
        "settings": settings,
        "selected": json.loads((output / "model_selection.json").read_text())["selected"],
        "shipped": {"candidate": shipped["candidate"], "settings": shipped["settings"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="compare the last runs' outputs")
    args = parser.parse_args()
    started = time.perf_counter()
    results, walls = {}, {}
    for label, runner in RUNS.items():
        name = "reproducibility_" + label.split()[0].strip(",").lower()
        project = WORKDIR / name
        wall_file = project / "wall_seconds.json"
        if not (args.reuse and wall_file.exists()):
            project = scratch_project(WORKDIR, name)
            begun = time.perf_counter()
            with busy_core(not runner):
                kedro_run(project, *runner)
            wall_file.write_text(json.dumps(time.perf_counter() - begun))
            kedro_run(project, "--pipelines", "deployment")
        walls[label] = json.loads(wall_file.read_text())
        results[label] = outcome(project)
    (a, first), (b, second) = results.items()
    print(f"\ncommand: .venv/bin/python benchmarks/reproducibility.py; {time.strftime('%Y-%m-%d')}")
    print(f"\n| | {a} | {b} | same |")
    print("|---|---|---|---|")
    print(f"| `kedro run` wall s | {walls[a]:.0f} | {walls[b]:.0f} | |")
    plan = ", ".join(f"{n} {t}" for n, t in first["plan"].items() if t)
    print(f"| tuning plan (trials) | {plan} | | {first['plan'] == second['plan']} |")
    for name in sorted(set(first["settings"]) | set(second["settings"])):
        same_trials = first["trials"].get(name) == second["trials"].get(name)
        same = first["settings"].get(name) == second["settings"].get(name)
        count = len(next(iter(first["trials"].get(name, {"": []}).values()), []))
        print(f"| {name}: {count} trial(s), shipped settings | | | {same_trials and same} |")
    print(f"| selected | {first['selected']} | {second['selected']} | "
          f"{first['selected'] == second['selected']} |")  # fmt: skip
    shipped = first["shipped"]
    print(f"| package: candidate and settings | {shipped['candidate']}: {shipped['settings']} | | "
          f"{first['shipped'] == second['shipped']} |")  # fmt: skip
    verdict = all(
        first[k] == second[k] for k in ("plan", "trials", "settings", "selected", "shipped")
    )
    print(f"\nthe same model with the same settings, shipped by both: {verdict}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
