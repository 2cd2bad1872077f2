"""Benchmark: the data_processing pipeline on a file the size of the real one, beside pandas.

Generates (once, cached) a demo file shaped like the real Kaggle file (~12.9 M rows, ~1.2 GB),
then measures, each in a fresh process, wall time and peak memory (max RSS) of:

- ``kedro run --pipelines data_processing`` on it (in a scratch copy of the project, so the
  project's data/ and mlflow.db are left alone);
- ``pandas.read_csv`` of the same file (the C parser, the usual first attempt), and how many
  rows it gets wrong.

Usage (from the project root, after `make setup`):
    .venv/bin/python benchmarks/data_processing.py [--rows-scale 1.0] [--workdir benchmarks/.work]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import ENVIRONMENT, WORKDIR, generated_file, scratch_project

# Peak memory is the process's VmHWM: unlike ru_maxrss, it is not inherited across fork+exec
# from this (large) parent process.
_MEASURE = """
import json, re, sys, time
def peak_mb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) / 1024
started = time.perf_counter()
{body}
elapsed = time.perf_counter() - started
result = {{"seconds": elapsed, "peak_mb": peak_mb(), **extra}}
{after}
print("RESULT " + json.dumps(result))
"""

_KEDRO_BODY = """
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path.cwd())
with KedroSession.create(project_path=Path.cwd(), runtime_params={{"raw_data_path": {path!r}}}) as session:
    session.run(pipeline_names=["data_processing"])
import pandas as pd
accounting = pd.read_csv("data/08_reporting/row_accounting.csv")
extra = {{"rows_kept": int(accounting.loc[accounting.outcome == "kept", "rows"].sum()),
          "rows_read": int(accounting.loc[accounting.outcome == "read", "rows"].sum())}}
"""

_PANDAS_BODY = """
import pandas as pd
frame = pd.read_csv({path!r}, skipinitialspace=True, dtype=str, keep_default_na=False,
                    on_bad_lines="skip")
extra = {{"rows_kept": len(frame)}}
"""

# After timing: how many rows pandas read with values other than ours (the file has no blank or
# broken lines, so row i is line i + 2 in both).
_PANDAS_AFTER = """
ours = pd.read_parquet("data/02_intermediate/parsed_lines.parquet",
                       columns=["user_id", "artistname", "trackname", "playlistname"])
if len(ours) == len(frame):
    differs = (frame.reset_index(drop=True).values != ours.values).any(axis=1)
    result["rows_wrong"] = int(differs.sum())
"""


def measure(body: str, cwd: Path, after: str = "") -> dict:
    script = _MEASURE.format(body=body, after=after)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"measurement failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-5000:]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows-scale", type=float, default=1.0, help="fraction of full size")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--file", type=Path, help="use this file instead of generating one")
    args = parser.parse_args()

    path = args.file or generated_file(args.rows_scale, args.workdir)
    size_gb = path.stat().st_size / 1e9
    project = scratch_project(args.workdir, "data_processing")

    ours = measure(_KEDRO_BODY.format(path=str(path.resolve())), project)
    pandas = measure(_PANDAS_BODY.format(path=str(path.resolve())), project, after=_PANDAS_AFTER)

    rows = ours["rows_read"]
    print(f"\nfile: {path} ({size_gb:.2f} GB, {rows:,} data lines); {os.cpu_count()} cores\n")
    header = (
        f"| {'reader':<46} | {'wall s':>7} | {'peak GB':>7} | {'rows/s':>11} | {'rows out':>11} "
        f"| {'values differ from ours':>23} |"
    )
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for name, result in (
        ("kedro run --pipelines data_processing (ours)", ours),
        ("pandas.read_csv (C parser, bad lines skipped)", pandas),
    ):
        wrong = result.get("rows_wrong", "reference" if result is ours else "n/a")
        print(
            f"| {name:<46} | {result['seconds']:>7.1f} | {result['peak_mb'] / 1024:>7.2f} | "
            f"{rows / result['seconds']:>11,.0f} | {result['rows_kept']:>11,} | {wrong:>23} |"
        )
    print(
        f"\nratio pandas/ours wall time: {pandas['seconds'] / ours['seconds']:.2f}; "
        f"ours reads parse+clean+filter+split+accounting, pandas only parses."
    )
    print("target: ours < 60 s and < 4 GB peak on 2 cores")


if __name__ == "__main__":
    main()
