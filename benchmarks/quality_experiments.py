"""Benchmark: methods beyond the shipped defaults, tried against the blend (validation only).

RP3beta (whole-playlist and ±5 windowed), the shipped EASE kind's regularization (over the
whole catalog here: yes_small has 3 k tracks), sequential rules' reach (the sequential_rules kind's ``window``;
the project ships 3), blends of the shipped kinds with them (fitted as the pipeline fits its
blend: figures cross-fitted over the validation queries, beside what the weights score on the
queries they were tuned on), the blend's own settings, a learning curve (8/9 of the
training playlists against all), and a learned re-ranker over the shipped components' lists
(``rerank``: scikit-learn's logistic regression and gradient boosting, cross-fitted over the
same folds as the blend, or trained on pseudo-queries from the training playlists). Reads the
split ``benchmarks/quality.py`` left in ``benchmarks/.work/quality_<scenario>``; every figure
is the pipeline's own ``evaluate`` on the validation queries; test queries are never read.

``reference`` is the exception: it re-splits every playlist as the reference script of issue 11
does (shuffled, 90 % train, 10 % test, no validation split), over several seeds, and scores
the shipped kinds' own fits there, to place the targets against the spread between splits.
It chooses nothing. Results: benchmarks/README.md.

Usage (after ``benchmarks/quality.py``; ~10 minutes a scenario on 2 cores):
    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/quality_experiments.py \
        --scenario continuation --part rp3 sr ease blend grid curve rerank reference
"""

# One main() walks the parts in order; its lambdas are called at once, inside their loop.
# ruff: noqa: B023, PLR0912, PLR0915

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from common import WORKDIR
from music_recsys.core.catalog import TrackIndex
from music_recsys.core.evaluation import evaluate, summarise
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import build_queries
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import Candidate, FitInputs, kind
from music_recsys.kinds.blend import BlendSettings
from music_recsys.kinds.blend.cross_fitting import component_lists, folds_of
from music_recsys.kinds.blend.model import normalised
from music_recsys.kinds.ease import MAX_TRACKS as EASE_MAX
from music_recsys.kinds.item_graph import ItemGraph
from music_recsys.pipelines.candidates import declared_candidates


@dataclass
class Graph(ItemGraph):
    kind: str = field(default="cooccurrence", init=False)


def arrays(train: pd.DataFrame, index: pd.DataFrame):
    pos = pd.Series(np.arange(len(index)), index=index["track_id"])
    t = train.sort_values(["playlist_id", "position"], kind="stable")
    idx = pos.loc[t["track_id"]].to_numpy(np.int64)
    _, starts = np.unique(t["playlist_id"].to_numpy(), return_index=True)
    offsets = np.append(starts, len(t))
    plist = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return plist, idx, offsets


def topk_rows(w: sp.csr_matrix, k: int | None) -> sp.csr_matrix:
    w = w.tocsr()
    w.setdiag(0)
    w.eliminate_zeros()
    if k is None:
        return w
    rows, cols, vals = [], [], []
    for r in range(w.shape[0]):
        s, e = w.indptr[r], w.indptr[r + 1]
        c, v = w.indices[s:e], w.data[s:e]
        if len(v) > k:
            keep = np.argpartition(-v, k)[:k]
            c, v = c[keep], v[keep]
        rows.append(np.full(len(c), r))
        cols.append(c)
        vals.append(v)
    out = sparse(rows, cols, vals, w.shape)
    out.sort_indices()
    return out


def window_pairs(plist, idx, window):
    """``(distance, earlier, later, same)`` for the pairs of tracks 1 to ``window`` positions
    apart within a playlist (``same``: which of the shifted positions pair up)."""
    for d in range(1, window + 1):
        same = plist[:-d] == plist[d:]
        yield d, idx[:-d][same], idx[d:][same], same


def sparse(rows, cols, vals, shape) -> sp.csr_matrix:
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    )


def rp3beta(train, index, alpha=1.0, beta=0.0, topk=None, window=None):
    """W = P_iu P_ui, columns / pop^beta, top-k per row. window: pairs within ±window only,
    each weighted 1/len(playlist)^alpha, rows / pop^alpha (the windowed analogue)."""
    plist, idx, offsets = arrays(train, index)
    n, n_pl = len(index), len(offsets) - 1
    x = sp.csr_matrix((np.ones(len(idx)), (plist, idx)), shape=(n_pl, n))
    x.data[:] = 1.0  # binary (duplicates summed -> 1)
    x.sum_duplicates()
    x.data[:] = 1.0
    lengths = np.asarray(x.sum(axis=1)).ravel()
    pop = np.asarray(x.sum(axis=0)).ravel()
    pop_safe = np.maximum(pop, 1)
    if window is None:
        pui = sp.diags(1 / lengths**alpha) @ x
        piu = sp.diags(1 / pop_safe**alpha) @ x.T
        w = (piu @ pui).tocsr()
    else:
        length_row = np.diff(offsets)[plist].astype(np.float64)
        rows, cols, vals = [], [], []
        for d, a, b, same in window_pairs(plist, idx, window):
            wt = 1 / length_row[:-d][same] ** alpha
            rows += [a, b]
            cols += [b, a]
            vals += [wt, wt]
        w = (sp.diags(1 / pop_safe**alpha) @ sparse(rows, cols, vals, (n, n))).tocsr()
    w = (w @ sp.diags(1 / pop_safe**beta)).tocsr()
    w = topk_rows(w, topk).astype(np.float32)
    return Graph(TrackIndex.from_frame(index), name="rp3beta", graph=w)


SPLITS = ("train", "validation", "test")


class Ctx:
    def __init__(self, scenario):
        self.project = WORKDIR / f"quality_{scenario}"  # quality.py's scratch project
        self.data = data = self.project / "data/04_model_input"
        self.train_df = pd.read_parquet(data / "playlists_train.parquet")
        self.index = pd.read_parquet(data / "track_index.parquet")
        self.queries = pd.read_parquet(data / "validation_queries.parquet")
        protocol = pd.read_json(data / "evaluation_protocol.json", typ="series")["protocol"]
        self.evaluation = EvaluationParams(
            protocol=protocol, k=(10,), selection_metric="hit_rate_at_10"
        )
        self.order = json.loads((data.parent / "03_primary/track_order_report.json").read_text())

    def train(self, frame=None):
        return relation(self.train_df if frame is None else frame)

    def but(self, **changes) -> Ctx:
        """A copy with other attributes (another catalog, queries or evaluation)."""
        other = copy.copy(self)
        other.__dict__.update(changes)
        return other

    def candidates(self) -> dict[str, Candidate]:
        """The candidates quality.py ran: conf/base's and its variants (e.g. SKNN's own k)."""
        return declared_candidates(str(self.project / "conf"))

    def playlists(self) -> pd.DataFrame:
        """Every playlist of the scenario's file with 2+ tracks (train, validation and test)."""
        frames = [pd.read_parquet(self.data / f"playlists_{s}.parquet") for s in SPLITS]
        rows = pd.concat(frames, ignore_index=True)
        sizes = rows.groupby("playlist_id")["track_id"].transform("size")
        return rows[sizes >= 2]


def score(ctx, label, builder):
    t0 = time.perf_counter()
    model = builder()
    t1 = time.perf_counter()
    metrics, per_query = evaluate(model, ctx.queries, ctx.evaluation)
    t2 = time.perf_counter()
    print(
        f"| {label} | {metrics['hit_rate_at_10']:.4f} ± {metrics['hit_rate_at_10_se']:.4f} | "
        f"{t1 - t0:.1f} | {t2 - t1:.1f} |",
        flush=True,
    )
    return model, metrics, per_query


def kind_model(ctx, candidate, train=None):
    inputs = FitInputs(ctx.train(train), ctx.index, ctx.order, name=candidate.name)
    return candidate.kind.fit(inputs, candidate.validated()).recommender


DECLARED = declared_candidates()
# The shipped blend's components as conf/base declares them.
SHIPPED = tuple(DECLARED["blend"].validated().components)


def shipped_candidates() -> dict:
    """The shipped blend's components, and first-order transitions (sequential rules, window 1)
    beside them."""
    return {name: DECLARED[name] for name in (*SHIPPED, "transitions")}


def ease(ctx, regularization: float) -> Candidate:
    """The shipped EASE kind at ``regularization``, modelling the whole catalog when its size
    guard allows (yes_small's 3 k tracks: no popularity tail)."""
    settings = {"regularization": regularization, "max_tracks": min(len(ctx.index), EASE_MAX)}
    return Candidate(f"ease_{regularization:g}", kind("ease"), settings)


def sequential_rules(window: int) -> Candidate:
    """Session-rec's SR: the sequential_rules kind reaching ``window`` places on (1/distance)."""
    return Candidate(f"sr_{window}", kind("sequential_rules"), {"window": window})


BLEND_HEADER = (
    "| blend | cross-fitted HR@10 ± SE | tuned on all | weight search s | eval s | weights |"
    "\n|---|---|---|---|---|---|"
)


def blend_report(ctx, models: dict, label: str, step=0.1, depth=100):
    """The blend of ``models`` as the pipeline fits it; its figure cross-fitted (each fold of
    the queries scored with the weights chosen on the others), beside the in-sample one."""
    inputs = FitInputs(
        ctx.train(None),
        ctx.index,
        ctx.order,
        name=label,
        validation_queries=ctx.queries,
        evaluation=ctx.evaluation,
        components=models,
    )
    fitted = kind("blend").fit(
        inputs, BlendSettings(components=tuple(models), depth=depth, grid_step=step)
    )
    model, info, answers = fitted.recommender, fitted.stats, fitted.validation
    metrics, per_query = summarise(
        model, answers.ranked, ctx.queries, ctx.evaluation, answers.seconds
    )
    weights = {k: round(v, 2) for k, v in info["weights"].items() if v > 0}
    print(
        f"| {label} | {metrics['hit_rate_at_10']:.4f} ± {metrics['hit_rate_at_10_se']:.4f} | "
        f"{info['tuned_validation_value']:.4f} | {info['fit_seconds']:.1f} | "
        f"{metrics['evaluation_seconds']:.1f} | {weights} ({len(weights)} used) |",
        flush=True,
    )
    return metrics, per_query


def mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), values.std(ddof=1) / np.sqrt(len(values))


def paired(pq_a, pq_b):
    a = (pq_a["rank"].to_numpy() < 10) & pq_a["counted"].to_numpy()
    b = (pq_b["rank"].to_numpy() < 10) & pq_b["counted"].to_numpy()
    c = pq_a["counted"].to_numpy()
    return mean_se((a.astype(float) - b.astype(float))[c])


def rerank_rows(lists, queries, counts: np.ndarray):
    """One row per (query, track listed by any component): features, label, query and track.

    Features: each component's min-max scaled score within its list (0 where it does not list
    the track) and log(1 + rank) (log(1 + depth) where not listed), the track's log training
    count and the query's log length — what a linear blend sees, plus popularity and ranks."""
    tops = [t for t, _ in lists]
    scaled = [normalised(t, s) for t, s in lists]
    depth = tops[0].shape[1]
    lengths = np.array([max(len(q), 1) for q in queries["query"]], dtype=np.float64)
    rows = []
    for q in range(len(lengths)):
        tracks = np.unique(np.concatenate([t[q][t[q] >= 0] for t in tops]))
        features = [np.log1p(counts[tracks]), np.full(len(tracks), np.log(lengths[q]))]
        for top, value in zip(tops, scaled, strict=True):
            where = {int(track): r for r, track in enumerate(top[q]) if track >= 0}
            at = np.array([where.get(int(t), -1) for t in tracks])
            features.append(np.where(at >= 0, value[q][np.maximum(at, 0)], 0.0))
            features.append(np.log1p(np.where(at >= 0, at, depth)))
        rows.append((np.stack(features, 1), np.full(len(tracks), q), tracks))
    x = np.concatenate([r[0] for r in rows])
    query = np.concatenate([r[1] for r in rows])
    track = np.concatenate([r[2] for r in rows])
    return x, query, track


def reranked_hits(probability, query, track, targets, counted, k=10) -> np.ndarray:
    """Per counted query: whether the target is among the ``k`` tracks scored highest."""
    order = np.lexsort((-probability, query))
    query, track = query[order], track[order]
    starts = np.searchsorted(query, np.arange(len(targets)))
    ends = np.append(starts[1:], len(query))
    hits = np.array(
        [
            targets[q] in track[a : min(a + k, b)]
            for q, (a, b) in enumerate(zip(starts, ends, strict=True))
        ]
    )
    return hits[counted]


def hit_figure(hits) -> str:
    return "{:.4f} ± {:.4f}".format(*mean_se(hits))


def rerankers():
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    return {
        "logistic regression": lambda: LogisticRegression(C=1.0, max_iter=3000),
        "gradient boosting (200 trees, 15 leaves)": lambda: HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=50, random_state=0
        ),
    }


def pseudo_queries(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Continuation queries from training playlists (one random track held out)."""
    evaluation = EvaluationParams(protocol="continuation", seed=seed, max_queries=10**9)
    return build_queries(relation(frame), {"protocol": "continuation"}, evaluation)


def reference_split(rows: pd.DataFrame, seed: int, protocol: str):
    """The reference script's split: playlists shuffled by ``seed``, the first 90 % to train,
    the rest queried; the catalog and the test queries as the pipeline builds them."""
    ids = np.random.default_rng(seed).permutation(np.sort(rows["playlist_id"].unique()))
    train = rows[rows["playlist_id"].isin(ids[: len(ids) * 9 // 10])]
    test = rows[rows["playlist_id"].isin(ids[len(ids) * 9 // 10 :])]
    evaluation = EvaluationParams(protocol=protocol, k=(10,), seed=seed, max_queries=10**9)
    queries = build_queries(relation(test), {"protocol": protocol}, evaluation)
    return train, build_track_index(relation(train)), queries, evaluation


# The best settings of the first three parts (chosen on validation), which the blends and the
# learning curve use.
BEST = {
    "continuation": {
        "rp3": {"alpha": 0.5, "beta": 0.2, "topk": 200},
    },
    "next_track": {
        "rp3": {"alpha": 0.5, "beta": 0.0, "topk": None},
    },
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", default="continuation")
    p.add_argument("--part", nargs="+", default=["rp3"])
    args = p.parse_args()
    ctx = Ctx(args.scenario)
    print(
        f"\n## {args.scenario}: {len(ctx.queries)} validation queries, catalog {len(ctx.index)}, "
        f"{ctx.train_df['playlist_id'].nunique()} training playlists\n",
        flush=True,
    )
    if "rp3" in args.part:
        print("| RP3beta | HR@10 ± SE | fit s | eval s |\n|---|---|---|---|")
        results = []
        for window in (None, 5):
            for alpha in (0.5, 1.0):
                for beta in (0.0, 0.2, 0.4, 0.6):
                    for topk in (100, 200, None):
                        if window is not None and topk is not None:
                            continue  # windowed graph rows are short already
                        label = f"window={window} alpha={alpha} beta={beta} topk={topk}"
                        _, met, _ = score(
                            ctx,
                            label,
                            lambda: rp3beta(ctx.train_df, ctx.index, alpha, beta, topk, window),
                        )
                        results.append((met["hit_rate_at_10"], label))
        print("best RP3beta:", max(results))
    if "sr" in args.part:
        print("| SR | HR@10 ± SE | fit s | eval s |\n|---|---|---|---|")
        for w in (2, 3, 5, 10):
            score(ctx, f"sr window={w}", lambda: kind_model(ctx, sequential_rules(w)))
    if "ease" in args.part:
        print("| EASE | HR@10 ± SE | fit s | eval s |\n|---|---|---|---|")
        for lam in (50, 250, 500, 1000):
            score(ctx, f"ease lambda={lam}", lambda: kind_model(ctx, ease(ctx, lam)))
    if {"blend", "grid", "curve"} & set(args.part):
        cfg = BEST[args.scenario]
        shipped = shipped_candidates()
        models = {name: kind_model(ctx, c) for name, c in shipped.items()}
        models["rp3beta"] = rp3beta(ctx.train_df, ctx.index, **cfg["rp3"])
        # EASE at its shipped regularization (conf/base), over the whole catalog.
        models["ease"] = kind_model(ctx, ease(ctx, DECLARED["ease"].validated().regularization))
        for name, model in models.items():
            model.name = name
    if "blend" in args.part:
        print(BLEND_HEADER)
        base = list(SHIPPED)
        sets = [
            base,
            base + ["rp3beta"],
            ["playlist_knn", "ials", "rp3beta"],
            ["playlist_knn", "rp3beta"],
        ]
        # The order-reading component: first-order transitions in place of sequential rules.
        sets += [[("transitions" if c == "sequential_rules" else c) for c in base]]
        sets += [base + ["ease"], ["playlist_knn", "ials", "ease"]]
        pqs = {}
        for s in sets:
            _, pqs[tuple(s)] = blend_report(ctx, {k: models[k] for k in s}, "+".join(s))
        for s in sets[1:]:
            d, se = paired(pqs[tuple(s)], pqs[tuple(base)])
            print(f"paired vs current blend: {'+'.join(s)}: {d:+.4f} ± {se:.4f}")
    if "grid" in args.part:
        # The shipped blend's own settings, and smaller blends: what earns its place honestly.
        print(BLEND_HEADER)
        base = {k: models[k] for k in SHIPPED}
        for step in (0.5, 0.25, 0.2, 0.1, 0.05):
            blend_report(ctx, base, f"shipped components, grid_step {step}", step=step)
        for depth in (50, 200):
            blend_report(ctx, base, f"shipped components, depth {depth}", depth=depth)
        for names in (
            ("playlist_knn", "ials"),
            ("cooccurrence", "playlist_knn"),
            ("cooccurrence", "playlist_knn", "ials"),
        ):
            blend_report(ctx, {k: models[k] for k in names}, "+".join(names))
    if "curve" in args.part:
        print("| learning curve | HR@10 ± SE | fit s | eval s |\n|---|---|---|---|")
        ids = np.sort(ctx.train_df["playlist_id"].unique())
        for seed in (0, 1, 2):
            keep = np.random.default_rng(seed).permutation(ids)[: len(ids) * 8 // 9]
            sub = ctx.train_df[ctx.train_df["playlist_id"].isin(keep)]
            label = f"8/9 of train (seed {seed})"
            sm = {name: kind_model(ctx, c, train=sub) for name, c in shipped.items()}
            sm["rp3beta"] = rp3beta(sub, ctx.index, **cfg["rp3"])
            for name, model in sm.items():
                model.name = name
            score(ctx, f"playlist_knn, {label}", lambda: sm["playlist_knn"])
            comp = SHIPPED
            blend_report(ctx, {k: sm[k] for k in comp}, f"blend {'+'.join(comp)}, {label}")
        score(ctx, "playlist_knn, all train", lambda: models["playlist_knn"])
        comp = SHIPPED
        blend_report(ctx, {k: models[k] for k in comp}, f"blend {'+'.join(comp)}, all train")

    if "rerank" in args.part:
        rerank(ctx, args.scenario)
    if "reference" in args.part:
        reference(ctx, args.scenario)


def rerank(ctx, scenario: str) -> None:
    """A learned re-ranker over the shipped components' top 50: cross-fitted over the blend's
    folds of the validation queries, and trained on pseudo-queries of the training playlists
    (components fitted on one half, queried from the other), against kNN alone and the blend."""
    if scenario != "continuation":
        print("rerank: continuation only (pseudo-queries hold out a random track)")
        return
    components = {n: DECLARED[n] for n in SHIPPED if n != "sequential_rules"}
    models = {n: kind_model(ctx, c) for n, c in components.items()}
    counts = ctx.index["count"].to_numpy(np.float64)
    started = time.perf_counter()
    lists, targets, counted = component_lists(
        list(models.values()), ctx.queries, ctx.evaluation, 50, "rerank"
    )
    x, query, track = rerank_rows(lists, ctx.queries, counts)
    label = track == targets[query]
    prepared = time.perf_counter() - started
    knn_rank = 3 + 2 * list(models).index("playlist_knn")  # its log(1 + rank) column
    knn_hits = reranked_hits(-x[:, knn_rank], query, track, targets, counted)
    _, blend_pq = blend_report(ctx, models, "the shipped blend (for comparison)")
    blend_hits = (blend_pq["rank"].to_numpy() < 10)[blend_pq["counted"].to_numpy()]
    print(
        f"\n{len(targets)} validation queries, {len(x)} (query, track) rows, "
        f"target listed in {np.mean([label[query == q].any() for q in range(len(targets))]):.3f}"
        f" of them; lists and features {prepared:.1f} s\n"
    )

    def row(name, trained_on, hits, seconds):
        d = hits.astype(float) - knn_hits
        print(f"| {name} | {trained_on} | {hit_figure(hits)} | {hit_figure(d)} | {seconds} |")

    print("| re-ranker | trained on | HR@10 ± SE | paired vs kNN | fit s |\n|---|---|---|---|---|")
    print(f"| playlist_knn alone | — | {hit_figure(knn_hits)} | — | — |")
    row("linear blend", "the other folds", blend_hits, "—")
    folds = folds_of(ctx.queries["playlist_id"], 5)
    for name, make in rerankers().items():
        probability = np.zeros(len(x))
        started = time.perf_counter()
        for fold in range(5):
            held = folds[query] == fold
            probability[held] = make().fit(x[~held], label[~held]).predict_proba(x[held])[:, 1]
        hits = reranked_hits(probability, query, track, targets, counted)
        row(name, "the other folds", hits, f"{time.perf_counter() - started:.1f}")
    # Pseudo-queries: components fitted on one half of the training playlists, queried with the
    # other half's playlists, a random track held out (no playlist is asked about itself).
    ids = np.random.default_rng(0).permutation(np.sort(ctx.train_df["playlist_id"].unique()))
    train_x, train_label = [], []
    for half in range(2):
        fit_ids, ask_ids = ids[half::2], ids[1 - half :: 2][:4000]
        frame = ctx.train_df[ctx.train_df["playlist_id"].isin(fit_ids)]
        asked = pseudo_queries(ctx.train_df[ctx.train_df["playlist_id"].isin(ask_ids)], half)
        index = build_track_index(relation(frame))
        half_models = {n: kind_model(ctx.but(index=index), c, frame) for n, c in components.items()}
        half_lists, half_targets, _ = component_lists(
            list(half_models.values()), asked, ctx.evaluation, 50, "rerank"
        )
        hx, hq, ht = rerank_rows(half_lists, asked, index["count"].to_numpy(np.float64))
        train_x.append(hx)
        train_label.append(ht == half_targets[hq])
    for name, make in rerankers().items():
        started = time.perf_counter()
        model = make().fit(np.concatenate(train_x), np.concatenate(train_label))
        hits = reranked_hits(model.predict_proba(x)[:, 1], query, track, targets, counted)
        seconds = f"{time.perf_counter() - started:.1f}"
        row(name, "pseudo-queries of the training playlists", hits, seconds)


def reference(ctx, scenario: str, seeds=(0, 1, 2, 3, 4)) -> None:
    """The shipped kinds on the reference script's protocol (90 % train, no validation), over
    several shuffles of the playlists: the spread between splits beside the targets."""
    protocol = "next_track" if scenario == "next_track" else "continuation"
    names = ["most_popular", "cooccurrence", "playlist_knn", "ials", "ease"]
    if protocol == "next_track":
        names += ["transitions", "sequential_rules"]
    declared = ctx.candidates()
    candidates = {n: declared[n] for n in names}
    # SKNN's own setting (100 neighbours voting their similarity), beside the shipped kNN.
    candidates["playlist_knn_sknn"] = Candidate(
        "playlist_knn_sknn", kind("playlist_knn"), {"neighbours": 100, "vote_exponent": 1.0}
    )
    rows = ctx.playlists()
    figures = {n: [] for n in candidates}
    print(f"| {protocol}, 90/10 split, seed | " + " | ".join(candidates) + " |")
    print("|---" * (len(candidates) + 1) + "|")
    for seed in seeds:
        train, index, queries, evaluation = reference_split(rows, seed, protocol)
        run = ctx.but(index=index, queries=queries, evaluation=evaluation)
        cells = []
        for name, candidate in candidates.items():
            metrics, _ = evaluate(kind_model(run, candidate, train=train), queries, evaluation)
            figures[name].append(metrics["hit_rate_at_10"])
            cells.append(f"{metrics['hit_rate_at_10']:.4f} ± {metrics['hit_rate_at_10_se']:.4f}")
        print(f"| {seed} ({len(queries)} queries) | " + " | ".join(cells) + " |", flush=True)
    print(
        "| mean (min–max) | "
        + " | ".join(f"{np.mean(v):.4f} ({min(v):.4f}–{max(v):.4f})" for v in figures.values())
        + " |"
    )


if __name__ == "__main__":
    main()
