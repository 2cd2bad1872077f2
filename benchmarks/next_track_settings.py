"""Benchmark: the settings behind the next-track defaults, on real radio playlists' validation.

The defaults in ``conf/base/parameters_data_science.yml`` that the playlist so far depends on
were chosen here, on the validation split of the "yes_small" radio playlists (real play order;
Chen et al., KDD 2012; not part of this repository: ``--file``, default
``../shared/data/yes_small_playlists.csv``), split as ``quality.py`` splits it (80/10/10 by
playlist, seed 42, playlists with 2+ tracks); test is never read. Three tables:

1. ``recency``: every kind that reads the order, with each recency weighting, asked with the
   playlist so far (the next_track protocol's queries), and with its last track alone;
2. ``knn``: playlist-kNN's settings one by one (IDF, the asymmetric cosine, VSTAN's IDF vote,
   V-SKNN's match recency, STAN's position decay, VSTAN's tuned #nowplaying setting
   translated), both questions, and the asymmetric cosine under continuation too;
3. ``word2vec``: skip-gram settings scored in·out, next_track and continuation (the rows in a
   seeded random order, as on title-sorted files), beside co-occurrence ±5 on the same queries
   (the target: 80 % of it).

Each prints HR@10, MRR@10 and HR@1. Word2vec trains with one worker (reproducible).

Usage (from the project root, after `make setup`; ~12 min on 2 cores, most of it word2vec):
    .venv/bin/python benchmarks/next_track_settings.py [--file <yes_small>] [--only recency knn word2vec]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import pandas as pd

from common import SHARED_DATA, WORKDIR, kedro_run, scratch_project
from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import build_queries, last_track
from music_recsys.core.recency import WEIGHTINGS
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import FitInputs, kind

EVALUATION = EvaluationParams(protocol="next_track", k=(1, 10), selection_metric="hit_rate_at_10")
SPLIT = [
    "split.train=0.8", "split.validation=0.1", "split.test=0.1", "split.seed=42",
    "filters.min_playlist_length=2",
]  # fmt: skip
IN_ORDER = {"next_track_is_meaningful": True, "explanation": "rows in play order"}
BY_TITLE = {"next_track_is_meaningful": False, "explanation": "rows read in a shuffled order"}

# The conf's settings of each kind that reads the order (recency varies on top of them).
KINDS = {
    "cooccurrence": {"window": 5},
    "sequential_rules": {"window": 3},
    "playlist_knn": {"neighbours": 500, "vote_exponent": 3.0, "idf": True, "asymmetry": 0.75},
    "ease": {"regularization": 250.0},
    "ials": {"factors": 64, "regularization": 0.05, "alpha": 10.0, "iterations": 8},
}
KNN = {"neighbours": 500, "vote_exponent": 3.0}
# VSTAN's setting session-rec tuned for #nowplaying's HR (k 2000, λ_spw 10.2, λ_inh 20.4,
# λ_ipw 2.55, λ_idf 2), its exponentials as geometric decays: exp(-1/λ) a step.
VSTAN = {
    "neighbours": 2000,
    "vote_exponent": 1.0,
    "recency": "geometric",
    "recency_decay": round(math.exp(-1 / 10.2), 3),
    "position_decay": round(math.exp(-1 / 20.4), 3),
    "match_recency": "geometric",
    "match_recency_decay": round(math.exp(-1 / 2.55), 3),
    "idf_vote": 2.0,
}
KNN_VARIANTS = [
    {},
    {"idf": True},
    {"idf": True, "asymmetry": 0.6},
    {"idf": True, "asymmetry": 0.75},  # the default
    {"idf": True, "asymmetry": 0.9},
    {"idf": True, "idf_vote": 1.0},
    {"idf": True, "match_recency": "div"},
    {"idf": True, "position_decay": 0.8},
    {"idf": True, "position_decay": 0.6},
    {"idf": True, "recency": "log", "position_decay": 0.8},
    {"neighbours": 100, "vote_exponent": 1.0},
    {"idf": True, "neighbours": 500, "vote_exponent": 1.0, "position_decay": 0.6},
    VSTAN,
]
W2V = {"sg": 1, "vector_size": 50, "negative": 5, "seed": 1, "workers": 1, "min_count": 1}
W2V_VARIANTS = [
    {"window": 3, "epochs": 100, "ns_exponent": -0.5, "sample": 1e-5},  # Caselles-Dupré et al.
    {"window": 2, "epochs": 50, "ns_exponent": -0.96, "sample": 3e-3, "min_count": 5},
    {"window": 5, "epochs": 50, "ns_exponent": -0.5, "sample": 1e-3},
    {"window": 5, "epochs": 30, "ns_exponent": -0.5, "sample": 1e-3},
    {"window": 5, "epochs": 30, "ns_exponent": 0.0, "sample": 1e-3},  # the default
    {"window": 10, "epochs": 50, "ns_exponent": 0.0, "sample": 5e-4},
    {"window": 24, "epochs": 80, "ns_exponent": 0.06, "sample": 5e-4},
]


@dataclasses.dataclass
class Data:
    train: object
    index: pd.DataFrame
    validation: object

    def queries(self, protocol: str) -> pd.DataFrame:
        return build_queries(self.validation, {"protocol": protocol}, EVALUATION)


def data(file: Path) -> Data:
    """The split of ``file`` as data_processing makes it, in a scratch project."""
    project = scratch_project(WORKDIR, "next_track_settings")
    kedro_run(
        project,
        "--pipelines",
        "data_processing",
        "--params",
        ",".join([f"raw_data_path={file.resolve()}", *SPLIT]),
    )
    model_input = project / "data/04_model_input"
    train = relation(pd.read_parquet(model_input / "playlists_train.parquet"))
    validation = relation(pd.read_parquet(model_input / "playlists_validation.parquet"))
    return Data(train, build_track_index(train), validation)


def scored(model, queries: pd.DataFrame) -> str:
    metrics, _ = evaluate(model, queries, EVALUATION)
    return (
        f"{metrics['hit_rate_at_10']:.4f} | {metrics['mrr_at_10']:.4f} | "
        f"{metrics['hit_rate_at_1']:.4f}"
    )


def fitted(d: Data, kind_name: str, settings: dict, report: dict = IN_ORDER, protocol=None):
    chosen = kind(kind_name)
    inputs = FitInputs(d.train, d.index, report, name=kind_name, protocol=protocol)
    return chosen.fit(inputs, chosen.settings(**settings)).recommender


def recency_table(d: Data) -> None:
    so_far = d.queries("next_track")
    last = last_track(so_far)
    print(f"\n### Recency ({len(so_far):,} validation queries, mean length "
          f"{so_far['query'].map(len).mean():.1f} tracks)\n")  # fmt: skip
    print("| kind | recency | so far: HR@10 | MRR@10 | HR@1 | last track: HR@10 | MRR@10 | HR@1 |")
    print("|---|---|---|---|---|---|---|---|")
    for kind_name, settings in KINDS.items():
        for weighting in WEIGHTINGS:
            model = fitted(d, kind_name, settings | {"recency": weighting, "recency_decay": 0.8})
            shown = "geometric 0.8" if weighting == "geometric" else weighting
            tail = f" {scored(model, last)} |" if weighting == "same" else " | | |"
            print(f"| {kind_name} | {shown} | {scored(model, so_far)} |{tail}", flush=True)


def knn_table(d: Data) -> None:
    so_far = d.queries("next_track")
    last = last_track(so_far)
    print("\n### Playlist-kNN's session weights\n")
    print("| kNN setting (from 500 neighbours, similarity³) | so far: HR@10 | MRR@10 | HR@1 | "
          "last track: HR@10 | MRR@10 | HR@1 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for change in KNN_VARIANTS:
        model = fitted(d, "playlist_knn", KNN | change)
        label = "VSTAN's #nowplaying setting" if change is VSTAN else (str(change) or "base")
        print(f"| {label} | {scored(model, so_far)} | {scored(model, last)} |", flush=True)


def word2vec_table(d: Data) -> None:
    protocols = {"next_track": IN_ORDER, "continuation": BY_TITLE}
    queries = {p: d.queries(p) for p in protocols}
    print("\n### word2vec (skip-gram, in·out), beside co-occurrence ±5\n")
    print("| setting | next_track HR@10 | MRR@10 | % of co-occurrence | continuation HR@10 | "
          "MRR@10 | % of co-occurrence | train s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    reference = {}
    for protocol, report in protocols.items():
        model = fitted(d, "cooccurrence", {"window": 5}, report, protocol)
        reference[protocol] = evaluate(model, queries[protocol], EVALUATION)[0]
    print(
        "| co-occurrence ±5 | "
        + " | ".join(
            f"{reference[p]['hit_rate_at_10']:.4f} | {reference[p]['mrr_at_10']:.4f} | 100 %"
            for p in protocols
        )
        + " | |"
    )
    for change in W2V_VARIANTS:
        cells, seconds = [], 0.0
        for protocol, report in protocols.items():
            started = time.perf_counter()
            model = fitted(d, "word2vec", W2V | change | {"scoring": "in_out"}, report, protocol)
            seconds += time.perf_counter() - started
            metrics = evaluate(model, queries[protocol], EVALUATION)[0]
            share = metrics["hit_rate_at_10"] / reference[protocol]["hit_rate_at_10"]
            cells.append(
                f"{metrics['hit_rate_at_10']:.4f} | {metrics['mrr_at_10']:.4f} | {share:.0%}"
            )
        label = ", ".join(f"{k} {v}" for k, v in change.items())
        print(f"| {label} | {' | '.join(cells)} | {seconds:.0f} |", flush=True)


TABLES = {"recency": recency_table, "knn": knn_table, "word2vec": word2vec_table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=SHARED_DATA / "yes_small_playlists.csv")
    parser.add_argument("--only", nargs="+", choices=list(TABLES))
    args = parser.parse_args()
    if not args.file.is_file():
        parser.error(f"{args.file} does not exist: pass the yes_small playlists file with --file")
    d = data(args.file)
    for name in args.only or list(TABLES):
        TABLES[name](d)


if __name__ == "__main__":
    main()
