"""Benchmark: the data_processing pipeline on files the real one's size, beside simpler readers.

For each shape (``benchmarks/common.py``: ``real`` — 12.4 M rows, 157 k playlists, ~1 M
tracks; ``many_tracks`` — 12.9 M rows over twice the tracks; ``many_playlists`` — 12.8 M rows,
232 k shorter playlists), it generates a file once (cached in ``benchmarks/.work/``) and
measures, each in a fresh process:

- ``kedro run --pipelines data_processing`` on it, the whole process (in a scratch copy of the
  project, so the project's data/ and mlflow.db are left alone), with its slowest nodes from
  the run profile;
- a bare DuckDB scan of the file's lines (the floor: reading 1.2 GB once);
- ``pandas.read_csv`` of the same file (the C parser, the usual first attempt), and how many
  rows it gets wrong.

Usage (from the project root, after `make setup`):
    .venv/bin/python benchmarks/data_processing.py [--shapes real ...] [--rows-scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from common import (
    SHAPES,
    WORKDIR,
    generated_file,
    kedro_profiled,
    python_result,
    scratch_project,
)

# Peak memory of the readers is the process's VmHWM (not inherited across fork+exec from this
# parent, unlike ru_maxrss). The pipeline's peak comes from its run profile: NodeProfileHook
# resets the high-water mark at every node, so VmHWM at exit is the last node's alone.
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

_DUCKDB_BODY = """
import duckdb
n = duckdb.sql("SELECT count(*) FROM read_csv({path!r}, columns={{'line': 'VARCHAR'}}, "
               "header=false, auto_detect=false, skip=1, delim=chr(30), quote='', escape='')"
              ).fetchall()[0][0]
extra = {{"rows_kept": n}}
"""

_PANDAS_BODY = """
import pandas as pd
frame = pd.read_csv({path!r}, skipinitialspace=True, dtype=str, keep_default_na=False,
                    on_bad_lines="skip")
extra = {{"rows_kept": len(frame)}}
"""

# After timing: how many rows pandas read with values other than ours (the generated files have
# no blank or broken lines, and no padded artist or title, so row i is line i + 2 in both).
_PANDAS_AFTER = """
import duckdb
ours = duckdb.sql("SELECT user_id, artistname, trackname, playlist_key "
                  "FROM 'data/02_intermediate/clean_rows.parquet' ORDER BY line_number").df()
if len(ours) == len(frame):
    differs = (frame.reset_index(drop=True).values != ours.values).any(axis=1)
    result["rows_wrong"] = int(differs.sum())
"""


def measure(body: str, cwd: Path, after: str = "") -> dict:
    return python_result(_MEASURE.format(body=body, after=after), cwd, "RESULT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shapes", nargs="+", default=["real", "many_tracks", "many_playlists"], choices=SHAPES
    )
    parser.add_argument("--rows-scale", type=float, default=1.0, help="fraction of full size")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()

    print(f"\n{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; target: ours ≤ 60 s\n")
    print(
        "| file | reader | wall s | peak GB | rows/s | rows out | values differ from ours "
        "| slowest nodes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        path = generated_file(args.rows_scale, args.workdir, shape).resolve()
        project = scratch_project(args.workdir, "data_processing")
        log = args.workdir / f"data_processing_{shape}.log"
        run = kedro_profiled(
            project,
            ["--pipelines", "data_processing", "--params", f"raw_data_path={path}"],
            log,
        )
        accounting = project / "data/08_reporting/row_accounting.csv"
        lines = accounting.read_text().splitlines()
        kept = sum(int(x.rsplit(",", 1)[1]) for x in lines if ",kept," in x)
        read = sum(int(x.rsplit(",", 1)[1]) for x in lines if ",read," in x)
        slowest = sorted(run["profile"]["nodes"], key=lambda n: -n["seconds"])[:4]
        nodes = ", ".join(
            f"{n['node'].removesuffix('_node')} {n['seconds']:.0f} s" for n in slowest
        )
        duckdb_scan = measure(_DUCKDB_BODY.format(path=str(path)), project)
        pandas = measure(_PANDAS_BODY.format(path=str(path)), project, after=_PANDAS_AFTER)
        label = f"{shape}: {read / 1e6:.1f} M rows, {path.stat().st_size / 1e9:.2f} GB"
        for name, seconds, peak, out, wrong, slow in (
            (
                "kedro run --pipelines data_processing (ours)",
                run["wall"],
                run["profile"]["peak_rss_gb"],
                kept,
                "reference",
                nodes,
            ),
            (
                "DuckDB: count the lines (the floor)",
                duckdb_scan["seconds"],
                duckdb_scan["peak_mb"] / 1024,
                duckdb_scan["rows_kept"],
                "n/a",
                "",
            ),
            (
                "pandas.read_csv (C parser, bad lines skipped)",
                pandas["seconds"],
                pandas["peak_mb"] / 1024,
                pandas["rows_kept"],
                pandas.get("rows_wrong", "n/a"),
                "",
            ),
        ):
            print(
                f"| {label} | {name} | {seconds:.1f} | {peak:.2f} | {read / seconds:,.0f} | "
                f"{out:,} | {wrong} | {slow} |",
                flush=True,
            )
    print("\nours parses, cleans, filters, checks the order, splits and accounts for every row;")
    print("DuckDB only counts lines; pandas only parses (and gets the unescaped quotes wrong).")


if __name__ == "__main__":
    main()
