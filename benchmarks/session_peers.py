"""Benchmark: session-rec's own kNN and rule models beside the project, next track on yes_small.

The yardstick for "what plays next after this playlist" is the session-based recommendation
literature (Ludewig & Jannach 2018; Ludewig, Latifi & Jannach 2021), whose implementations are
rn5l/session-rec (https://github.com/rn5l/session-rec). This script runs **their code**, with
the settings they tuned for #nowplaying, on the same split and the same test queries as the
project's own evaluation of the "yes_small" radio playlists, and prints HR@10, MRR@10, HR@1 and
time beside every candidate of the project and the packaged model asked through its endpoint.

session-rec is not part of this repository and is never copied into it: pass a folder holding
its ``algorithms/`` package (and its ``conf/``, from which the settings are read) with
``--session-rec``. One way to make such a folder::

    git clone https://github.com/rn5l/session-rec /tmp/session-rec-git
    mkdir -p /tmp/session-rec
    git -C /tmp/session-rec-git archive HEAD algorithms conf | tar -x -C /tmp/session-rec

**The project side** (a scratch copy of the project, as quality.py): ``kedro run`` with the
yes_small file, split 80/10/10 by playlist (seed 42), playlists with 2+ tracks,
``evaluation.protocol=next_track`` (the query is the playlist so far up to a seeded cut point,
the target the track at the cut), then ``kedro run --pipelines deployment`` with
``deployment.refit_on_all_data=false`` (the package answers as evaluated, fitted on the training
playlists only). Every candidate pickled in ``data/05_models`` is scored here on the run's test
queries by the project's ``evaluate``; the packaged model is asked through
``LocalEndpoint`` (the package's handler in front of the TF Serving stand-in), once with the
playlist so far and once with its last track alone.

**The peers**: ``SequentialRules`` (sr), ``VMContextKNN`` (vsknn), ``STAN`` (stan-mrr, stan-hr)
and ``VSKNN_STAN`` (vstan-mrr, vstan-hr), with the settings of session-rec's
``conf/save/nowplaying/window/window_nowplaying_{baselines,stan,vstan}.yml``, read from the
folder given (vstan's sit under ``params_opt`` there, as single values: they are used as fixed
settings; ``VSKNN_STAN`` reads no ``similarity``: it always uses cosine). Their modules predate
numpy 2 and import ``pympler``: this process aliases ``np.in1d`` to ``np.isin`` and
``time.clock`` to ``time.perf_counter`` where missing, and puts a stub ``pympler`` (``asizeof``
returns 0, used only for memory logging) in ``sys.modules`` if it is not installed; their files
are never changed. Judgement calls, each an option:

- **Time** (``--time``). Playlists have no timestamps, and the peers read time twice: "recent"
  neighbour sampling (vsknn, stan, vstan keep the ``sample_size`` sessions with the latest last
  event among those sharing a track) and STAN's session recency ``exp(-Δt / λ_snh)`` (λ_snh in
  days). ``global`` (default): the training playlists are laid end to end in playlist id order
  (the file's order), one second a track, and each test query starts after the last training
  track — "recent" then means "later in the file", one fixed, length-neutral subset for every
  query, and with the whole training set spanning ~1.5 days (126 k rows) against λ_snh of
  40-100 days the session recency weighs every neighbour within 4 % of the others: no recency
  is invented.
  ``position``: the i-th track of every playlist at time i (FACTS.md's suggestion); STAN's
  recency is then neutral too, but every session's time is its length, so "recent" sampling
  keeps the *longest* playlists sharing a track — a bias, not a choice of theirs.
- **The playlist so far** (``--prefix``). ``score`` (default): every query track is passed to
  ``predict_next`` in order and only the last call's scores are used, exactly as session-rec's
  ``evaluation.evaluate_sessions`` feeds a session (it scores at every event). ``skip``: the
  tracks before the last one are passed with ``skip=True``; that is cheaper but not the same
  model: the kNN classes gather candidate neighbours only in calls that score, so with ``skip``
  their neighbours come from the last track's sessions alone (on yes_small vstan-hr's HR@10
  falls from 0.161 to 0.144 with ``skip``; ``--time position`` moves no peer by over 0.003).
- **Unknown tracks and ties**: items are the project's catalog indices (the training tracks,
  most played first); query tracks the training playlists lack are left out of the session (the
  project's models ignore them too), and a query with no known track gets all-zero scores, i.e.
  the most popular tracks — the project's fallback (counted in the "fell back" note). Scores
  are ranked high to low, ties by the lower index (the more popular track: the project's own
  tie rule), NaN (SR's 0 / 0 normalisation) as 0, and the query's own tracks are dropped, as the
  project never recommends a query track back (this can only help the peers).

Counting is the project's: a query whose target is among its own tracks is left out (a
guaranteed miss; for the last-track figures, among the last track); HR@K = the target in the
top K; MRR@10 = 1 / (rank + 1) inside the top 10. Times: fit and answering all test queries,
on one core (the peers are single-threaded Python).

Usage (from the project root, after `make setup`; ~5 min on 2 cores, half of it kedro run):
    .venv/bin/python benchmarks/session_peers.py --session-rec /tmp/session-rec
        [--file <yes_small_playlists.csv>] [--params ...] [--reuse]
        [--time global|position] [--prefix score|skip]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import math
import os
import pickle
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from common import PROJECT, SHARED_DATA, WORKDIR, kedro_run, python_result, scratch_project
from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import last_track
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation

SCRATCH = "session_peers"
COMMON = [
    "split.train=0.8", "split.validation=0.1", "split.test=0.1", "split.seed=42",
    "filters.min_playlist_length=2", "evaluation.protocol=next_track",
]  # fmt: skip
K = 10
EVALUATION = EvaluationParams(protocol="next_track", k=(1, K), selection_metric="hit_rate_at_10")
SETTINGS_FOLDER = Path("conf/save/nowplaying/window")
# key in session-rec's conf: (its file, the class it must name, under algorithms/)
PEERS = {
    "sr": ("window_nowplaying_baselines.yml", "baselines.sr.SequentialRules"),
    "vsknn": ("window_nowplaying_baselines.yml", "knn.vsknn.VMContextKNN"),
    "stan-mrr": ("window_nowplaying_stan.yml", "knn.stan.STAN"),
    "stan-hr": ("window_nowplaying_stan.yml", "knn.stan.STAN"),
    "vstan-mrr": ("window_nowplaying_vstan.yml", "knn.vstan.VSKNN_STAN"),
    "vstan-hr": ("window_nowplaying_vstan.yml", "knn.vstan.VSKNN_STAN"),
}
PACKAGED = r"""
import json, tempfile, time
from pathlib import Path
import pandas as pd
from music_recsys.serving.package_cache import extracted
from music_recsys.serving.local import LocalEndpoint
K = 10
queries = pd.read_parquet("data/04_model_input/test_queries.parquet")
folder = extracted(Path("data/09_deployment/model.tar.gz"), Path(tempfile.mkdtemp()))
result = {}
with LocalEndpoint(folder) as endpoint:  # asked as its SageMaker endpoint: the package's handler
    for mode in ("playlist", "last"):
        asked = [list(q) if mode == "playlist" else list(q)[-1:] for q in queries["query"]]
        ranks, started = [], time.perf_counter()
        for start in range(0, len(asked), 256):
            answer = endpoint.predict({"instances": asked[start:start + 256]})
            wanted = queries["target"][start:start + 256]
            for prediction, target in zip(answer["predictions"], wanted):
                top = list(prediction["track_ids"][:K])
                ranks.append(top.index(target) if target in top else -1)
        result[mode] = {"ranks": ranks, "seconds": time.perf_counter() - started}
print("PACKAGED " + json.dumps(result))
"""


# --- session-rec ---------------------------------------------------------------------------


def peer_settings(folder: Path) -> dict[str, tuple[str, dict]]:
    """``{key: (class under algorithms/, settings)}`` for :data:`PEERS`, read from
    session-rec's own #nowplaying configuration files in ``folder``."""
    import yaml  # noqa: PLC0415

    found, documents = {}, {}
    for key, (file, class_name) in PEERS.items():
        path = folder / SETTINGS_FOLDER / file
        if path not in documents:
            if not path.is_file():
                raise SystemExit(
                    f"{path} is missing: --session-rec must hold session-rec's conf/ beside its "
                    "algorithms/ (git archive HEAD algorithms conf; see this script's doc)"
                )
            documents[path] = yaml.safe_load(path.read_text())
        entries = [a for a in documents[path].get("algorithms", []) if a.get("key") == key]
        if len(entries) != 1 or entries[0].get("class") != class_name:
            raise SystemExit(f"{path}: expected one algorithm keyed {key!r} of class {class_name}")
        settings = entries[0].get("params") or entries[0].get("params_opt") or {}
        if any(isinstance(value, list | dict) for value in settings.values()):
            raise SystemExit(f"{path}: {key}'s settings are a search space, not one setting")
        found[key] = (class_name, dict(settings))
    return found


def load_peer_classes(folder: Path, settings: dict[str, tuple[str, dict]]) -> dict[str, type]:
    """session-rec's classes, imported from ``folder`` with the shims their modules need."""
    if not (folder / "algorithms" / "__init__.py").is_file():
        raise SystemExit(f"{folder} holds no algorithms/ package (session-rec's): see the doc")
    if not hasattr(np, "in1d"):
        np.in1d = np.isin  # removed in numpy 2.4; same answers for 1-d input
    if not hasattr(time, "clock"):
        time.clock = time.perf_counter  # removed in Python 3.8
    try:
        importlib.import_module("pympler.asizeof")
    except ImportError:  # only their memory logging uses it
        stub = types.ModuleType("pympler")
        stub.asizeof = types.ModuleType("pympler.asizeof")
        stub.asizeof.asizeof = lambda *args, **kwargs: 0
        sys.modules.update({"pympler": stub, "pympler.asizeof": stub.asizeof})
    sys.path.insert(0, str(folder.resolve()))
    classes = {}
    for key, (class_name, _) in settings.items():
        module, _, name = f"algorithms.{class_name}".rpartition(".")
        classes[key] = getattr(importlib.import_module(module), name)
    return classes


def source_fingerprint(folder: Path) -> str:
    """A short hash of the peers' source files, to name the code that was measured."""
    digest = hashlib.sha1()
    for class_name in sorted({c for _, c in PEERS.values()}):
        path = folder / "algorithms" / (class_name.rpartition(".")[0].replace(".", "/") + ".py")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def session_frame(train: pd.DataFrame, codes: dict, time_mode: str) -> pd.DataFrame:
    """The training rows as session-rec reads them: ``SessionId``, ``ItemId``, ``Time``,
    sorted by session then time (see the module doc for the choice of time)."""
    rows = train.sort_values(["playlist_id", "position"], kind="stable").reset_index(drop=True)
    if time_mode == "global":  # playlists end to end in id order, one second a track
        times = np.arange(len(rows), dtype=np.int64)
    else:  # the i-th track of every playlist at time i
        times = rows.groupby("playlist_id").cumcount().to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "SessionId": rows["playlist_id"].to_numpy(dtype=np.int64),
            "ItemId": rows["track_id"].map(codes).to_numpy(dtype=np.int64),
            "Time": times,
        }
    )


def run_peer(
    model, train: pd.DataFrame, queries: list[list[int]], n_items: int, start: int, prefix: str
) -> dict:
    """Fits one peer and ranks the catalog for every query: ranks of the targets come later.

    Returns ``{"top": [queries, K] item codes, "fit": s, "answer": s, "fell_back": n}``."""
    started = time.perf_counter()
    model.fit(train)
    fit = time.perf_counter() - started
    items = np.arange(n_items, dtype=np.int64)
    top = np.full((len(queries), K), -1, dtype=np.int64)
    fell_back = 0
    started = time.perf_counter()
    for row, query in enumerate(queries):
        known = [item for item in query if item >= 0]
        scores = np.zeros(n_items)
        if known:
            session = -(row + 2)  # a fresh session id: the model resets its session state
            for j, item in enumerate(known):
                last = j == len(known) - 1
                # the time of the event after this one, as session-rec's evaluation passes it
                answer = model.predict_next(
                    session,
                    item,
                    items,
                    timestamp=start + j + 1,
                    skip=prefix == "skip" and not last,
                )
            scores = np.nan_to_num(answer.to_numpy(dtype=np.float64), nan=0.0)
        fell_back += not known or not (scores > 0).any()
        scores[known] = -np.inf  # never recommended back
        best = np.argsort(-scores, kind="stable")[:K]  # ties: the lower index, more popular
        top[row, : len(best)] = best
    return {"top": top, "fit": fit, "answer": time.perf_counter() - started, "fell_back": fell_back}


# --- figures -------------------------------------------------------------------------------


def ranks_of(top: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each target in its row of ``top`` (inf where absent)."""
    hits = (top == targets[:, None]) & (targets[:, None] >= 0)
    ranks = np.full(len(targets), np.inf)
    rows, positions = np.nonzero(hits)
    ranks[rows] = positions
    return ranks


def counted_mask(queries: pd.DataFrame) -> np.ndarray:
    """False where the target is among the query's own tracks (a guaranteed miss)."""
    return np.array(
        [t not in set(q) for q, t in zip(queries["query"], queries["target"], strict=True)]
    )


def figures(ranks: np.ndarray, counted: np.ndarray, fit: float | None, answer: float) -> dict:
    """HR@10, MRR@10, HR@1 over the counted queries, with the per-query hits for pairing."""
    r = ranks[counted]
    hits = (ranks < K).astype(float)
    hits[~counted] = np.nan
    return {
        "hr10": float((r < K).mean()),
        "hr10_se": float((r < K).std(ddof=1) / math.sqrt(len(r))),
        "mrr10": float(np.where(r < K, 1.0 / (r + 1.0), 0.0).mean()),
        "hr1": float((r < 1).mean()),
        "queries": int(counted.sum()),
        "fit": fit,
        "answer": answer,
        "hits": hits,
    }


def paired(a: dict, b: dict) -> tuple[float, float]:
    """HR@10 of ``a`` minus ``b`` on the queries both count, and its paired standard error."""
    both = ~np.isnan(a["hits"]) & ~np.isnan(b["hits"])
    d = a["hits"][both] - b["hits"][both]
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


# --- the runs ------------------------------------------------------------------------------


def project_runs(args: argparse.Namespace) -> tuple[Path, dict[str, float]]:
    """The scratch project with its run's outputs; the wall time of each ``kedro run``."""
    project = WORKDIR / SCRATCH
    needed = ["04_model_input/test_queries.parquet", "09_deployment/model.tar.gz"]
    if args.reuse and all((project / "data" / n).exists() for n in needed):
        print(f"reusing the outputs in {project}")
        return project, {}
    project = scratch_project(WORKDIR, SCRATCH)
    extra = [p for p in args.params.split(",") if p]
    params = ",".join([f"raw_data_path={args.file.resolve()}", *COMMON, *extra])
    walls = {}
    started = time.perf_counter()
    kedro_run(project, "--params", params)
    walls["kedro run"] = time.perf_counter() - started
    started = time.perf_counter()
    shipped = f"{params},deployment.refit_on_all_data=false"
    kedro_run(project, "--pipelines", "deployment", "--params", shipped)
    walls["kedro run --pipelines deployment"] = time.perf_counter() - started
    return project, walls


def project_figures(data: Path, queries: pd.DataFrame) -> tuple[dict[str, dict], str]:
    """Every pickled candidate's figures on the test queries (and cooccurrence's asked with the
    last track alone), and the selected candidate's name."""
    selected = json.loads((data / "07_model_output/model_selection.json").read_text())["selected"]
    results = pd.read_csv(data / "07_model_output/model_results.csv")
    fits = results[results["split"] == "validation"].set_index("candidate")["fit_seconds"]
    rows = {}
    for path in sorted(data.glob("05_models/*/recommender.pkl")):
        name = path.parent.name
        model = pickle.loads(path.read_bytes())
        asked = {name: queries}
        if name == "cooccurrence":
            asked[f"{name}, asked with the last track"] = last_track(queries)
        for label, frame in asked.items():
            metrics, per_query = evaluate(model, frame, EVALUATION, name=label)
            rows[label] = figures(
                per_query["rank"].to_numpy(dtype=float),
                per_query["counted"].to_numpy(dtype=bool),
                fits.get(name),
                metrics["evaluation_seconds"],
            )
    return rows, selected


def commit() -> str:
    """The checkout's commit, marked when its working tree has uncommitted changes."""

    def git(*arguments: str) -> str:
        done = subprocess.run(
            ["git", *arguments], cwd=PROJECT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes" if git("status", "--porcelain", "src", "conf") else "")


def seconds(row: dict) -> str:
    fit = "—" if row["fit"] is None or pd.isna(row["fit"]) else f"{row['fit']:.1f}"
    return f"{fit}; {row['answer']:.1f}"


def print_report(rows: dict[str, dict], peers: list[str], selected: str) -> None:
    print("\n| model | HR@10 ± SE | MRR@10 | HR@1 | queries counted | seconds (fit; answer) |")
    print("|---|---|---|---|---|---|")
    for label, row in rows.items():
        mark = " **(selected)**" if label == selected else ""
        print(
            f"| {label}{mark} | {row['hr10']:.4f} ± {row['hr10_se']:.4f} | {row['mrr10']:.4f} | "
            f"{row['hr1']:.4f} | {row['queries']:,} | {seconds(row)} |"
        )
    packaged, last = rows[PACKAGED_PLAYLIST], rows[PACKAGED_LAST]
    print()
    for metric, name in (("hr10", "HR@10"), ("mrr10", "MRR@10")):
        best = max(peers, key=lambda key: rows[key][metric])
        verdict = "at or above" if packaged[metric] >= rows[best][metric] else "below"
        line = (
            f"verdict, {name}: the packaged model asked with the playlist so far "
            f"{packaged[metric]:.4f} is {verdict} the best peer, {best} {rows[best][metric]:.4f}"
        )
        if metric == "hr10":
            difference, se = paired(packaged, rows[best])
            within = "within" if abs(difference) <= se else "beyond"
            line += f" (difference {difference:+.4f}, paired SE {se:.4f}: {within} one SE)"
        print(line)
    for label in ("cooccurrence", "cooccurrence, asked with the last track"):
        if label in rows:
            verdict = "at or above" if last["hr10"] >= rows[label]["hr10"] else "below"
            difference, se = paired(last, rows[label])
            within = "within" if abs(difference) <= se else "beyond"
            print(
                f"verdict, HR@10: the packaged model asked with the last track {last['hr10']:.4f} "
                f"is {verdict} the project's {label} {rows[label]['hr10']:.4f} (difference "
                f"{difference:+.4f}, paired SE {se:.4f} on the queries both count: {within} one SE)"
            )


PACKAGED_PLAYLIST = "packaged model via the endpoint, asked with the playlist so far"
PACKAGED_LAST = "packaged model via the endpoint, asked with the last track"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=SHARED_DATA / "yes_small_playlists.csv")
    parser.add_argument(
        "--session-rec",
        type=Path,
        required=True,
        help="a folder holding session-rec's algorithms/ and conf/ (see the doc)",
    )
    parser.add_argument("--params", default="", help="more kedro --params, comma-separated")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="skip the kedro runs where the scratch project has outputs",
    )
    parser.add_argument("--time", choices=["global", "position"], default="global")
    parser.add_argument("--prefix", choices=["score", "skip"], default="score")
    args = parser.parse_args()
    if not args.file.is_file():
        parser.error(f"{args.file} does not exist: pass the yes_small playlists file with --file")
    started = time.perf_counter()
    settings = peer_settings(args.session_rec)  # fails before the long runs if it must
    classes = load_peer_classes(args.session_rec, settings)

    project, walls = project_runs(args)
    data = project / "data"
    train = pd.read_parquet(data / "04_model_input/playlists_train.parquet")
    queries = pd.read_parquet(data / "04_model_input/test_queries.parquet")
    index = build_track_index(relation(train))
    codes = {track: i for i, track in enumerate(index["track_id"].tolist())}
    targets = np.array([codes.get(t, -1) for t in queries["target"]], dtype=np.int64)
    counted = counted_mask(queries)
    coded = [[codes.get(t, -1) for t in q] for q in queries["query"]]

    rows: dict[str, dict] = {}
    sessions = session_frame(train, codes, args.time)
    start = len(sessions) if args.time == "global" else 0  # queries begin after training
    notes = []
    for key, (class_name, peer) in settings.items():
        answer = run_peer(classes[key](**peer), sessions, coded, len(index), start, args.prefix)
        rows[key] = figures(
            ranks_of(answer["top"], targets), counted, answer["fit"], answer["answer"]
        )
        shown = ", ".join(f"{k} {v}" for k, v in peer.items())
        notes.append(f"{key}: {class_name}({shown}); fell back {answer['fell_back']}")
    project_rows, selected = project_figures(data, queries)
    rows.update(project_rows)
    packaged = python_result(PACKAGED, project, "PACKAGED")
    for mode, label in (("playlist", PACKAGED_PLAYLIST), ("last", PACKAGED_LAST)):
        asked = queries if mode == "playlist" else last_track(queries)
        ranks = np.array(packaged[mode]["ranks"], dtype=float)
        ranks[ranks < 0] = np.inf
        rows[label] = figures(ranks, counted_mask(asked), None, packaged[mode]["seconds"])

    print(f"\ncommand: .venv/bin/python benchmarks/session_peers.py {' '.join(sys.argv[1:])}")
    print(
        f"{time.strftime('%Y-%m-%d')}; commit {commit()}; {os.cpu_count()} cores; "
        f"session-rec algorithms {source_fingerprint(args.session_rec)} (sha1 of the 4 modules)"
    )
    print(
        f"data: {args.file.name}: {train['playlist_id'].nunique():,} training playlists, "
        f"{len(train):,} rows, {len(index):,} tracks; {len(queries):,} test queries "
        f"({int(counted.sum()):,} counted); time: {args.time}; prefix: {args.prefix}"
    )
    for run, wall in walls.items():
        print(f"{run}: {wall:.0f} s")
    print_report(rows, list(settings), selected)
    print("\npeers as run (fell back: no known query track or no positive score):")
    for note in notes:
        print(f"- {note}")
    print(f"\nwall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
