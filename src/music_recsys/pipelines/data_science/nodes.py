"""Nodes of the data_science pipeline: fit candidates, evaluate them alike, pick one honestly.

The evaluation follows the rules that make its numbers trustworthy:

- the whole catalog is ranked for every query (no sampled negatives; Krichene & Rendle 2020);
- playlists are held out whole (the split of data_processing), the same queries for everyone;
- the candidate is chosen on validation; the test split is scored once, for the chosen one and
  every baseline;
- simple baselines (most popular, co-occurrence, transitions) are candidates like any other
  (Ludewig & Jannach 2018 found them hard to beat), and win when they are best.
"""

from __future__ import annotations

import logging
import math
import time

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from music_recsys.duckdb_sql import sql, to_pandas

from . import metrics as m
from .params import CooccurrenceParams, EvaluationParams, TransitionParams, Word2VecParams
from .recommenders import (
    Cooccurrence,
    Embedding,
    MostPopular,
    Query,
    Recommender,
    TrackIndex,
    Transitions,
    top_k,
)
from .word2vec import PlaylistCorpus, train_word2vec

logger = logging.getLogger(__name__)

BASELINES = ("most_popular", "cooccurrence", "transitions")


# --- shared inputs -----------------------------------------------------------------------------


def build_track_index(playlists_train: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """The catalog: every track of the training playlists, most popular first.

    Args:
        playlists_train: Training rows (``playlist_id``, ``position``, ``track_id``).

    Returns:
        ``track_id``, ``count`` (training rows) and ``n_playlists``; the row number is the
        track's index in every model.
    """
    return to_pandas(
        sql(
            """
            SELECT track_id, count(*) AS count, count(DISTINCT playlist_id) AS n_playlists
            FROM {train} GROUP BY track_id ORDER BY count DESC, track_id
            """,
            train=playlists_train,
        )
    )


def choose_protocol(track_order_report: dict, evaluation: EvaluationParams) -> dict:
    """Next-track or playlist continuation: from the parameters, or from the data's order.

    ``auto`` follows data_processing's order check: when playlists list their tracks sorted by
    title, "the next track" is the next title A-Z, so the model is asked to complete the
    playlist instead; otherwise the rows are in play order and the next track is the target.
    """
    if evaluation.protocol != "auto":
        protocol = evaluation.protocol
        reason = f"set in parameters (evaluation.protocol: {protocol})"
    elif track_order_report["next_track_is_meaningful"]:
        protocol = "next_track"
        reason = f"auto: rows are in play order — {track_order_report['explanation']}"
    else:
        protocol = "continuation"
        reason = f"auto: rows are sorted by title — {track_order_report['explanation']}"
    logger.info("Evaluation protocol: %s (%s)", protocol, reason)
    return {"protocol": protocol, "reason": reason}


def _rows_by_playlist(playlists: duckdb.DuckDBPyRelation, track_index: pd.DataFrame | None = None):
    """Playlist ids, offsets and track ids (or catalog indices) of a split, in playlist order."""
    if track_index is None:
        frame = to_pandas(
            sql("SELECT playlist_id, track_id FROM {p} ORDER BY playlist_id, position", p=playlists)
        )
        values = frame["track_id"].to_numpy(dtype=object)
    else:
        index = pd.DataFrame(
            {"track_id": track_index["track_id"], "idx": np.arange(len(track_index))}
        )
        frame = to_pandas(
            sql(
                """
                SELECT p.playlist_id, i.idx FROM {p} p JOIN {index} i USING (track_id)
                ORDER BY p.playlist_id, p.position
                """,
                p=playlists,
                index=index,
            )
        )
        values = frame["idx"].to_numpy(dtype=np.int64)
    ids, starts = np.unique(frame["playlist_id"].to_numpy(), return_index=True)
    offsets = np.append(starts, len(frame))
    return ids, offsets, values


def build_queries(
    playlists: duckdb.DuckDBPyRelation, protocol: dict, evaluation: EvaluationParams
) -> pd.DataFrame:
    """One query per evaluated playlist: the tracks given to the model and the one to find.

    ``next_track``: the target is the last track, the query the ``query_length`` tracks before
    it. ``continuation``: the target is a random track, the query the others (at most
    ``max_query_tracks``, a random subset in their playlist order). Playlists are a seeded sample
    of at most ``max_queries`` with two tracks or more; every candidate gets the same queries.

    Returns:
        ``playlist_id``, ``query`` (list of track ids, oldest first) and ``target``.
    """
    ids, offsets, tracks = _rows_by_playlist(playlists)
    lengths = np.diff(offsets)
    eligible = np.flatnonzero(lengths >= 2)
    rng = np.random.default_rng(evaluation.seed)
    if len(eligible) > evaluation.max_queries:
        eligible = np.sort(rng.choice(eligible, size=evaluation.max_queries, replace=False))
    rows = []
    for p in eligible.tolist():
        playlist = tracks[offsets[p] : offsets[p + 1]]
        if protocol["protocol"] == "next_track":
            target_at = len(playlist) - 1
            query = playlist[max(0, target_at - evaluation.query_length) : target_at]
        else:
            target_at = int(rng.integers(len(playlist)))
            rest = np.delete(np.arange(len(playlist)), target_at)
            if len(rest) > evaluation.max_query_tracks:
                rest = np.sort(rng.choice(rest, size=evaluation.max_query_tracks, replace=False))
            query = playlist[rest]
        rows.append((int(ids[p]), list(query), playlist[target_at]))
    logger.info("%d %s queries from %d playlists", len(rows), protocol["protocol"], len(lengths))
    return pd.DataFrame(rows, columns=["playlist_id", "query", "target"])


# --- candidates --------------------------------------------------------------------------------


def fit_most_popular(track_index: pd.DataFrame) -> Recommender:
    """The most-popular baseline: the same ranking for every query."""
    return MostPopular(TrackIndex.from_frame(track_index), name="most_popular")


def _pair_graph(
    playlists_train, track_index: pd.DataFrame, window: int | None, directed: bool
) -> sp.csr_matrix:
    """Counts of track pairs at most ``window`` positions apart in the same playlist.

    ``directed``: only (earlier, later) pairs; otherwise both directions. ``window=None``: any
    two tracks of a playlist (computed as XᵀX on the playlist × track matrix).
    """
    _, offsets, indices = _rows_by_playlist(playlists_train, track_index)
    n = len(track_index)
    if window is None:
        playlist_of_row = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        occurrences = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), (playlist_of_row, indices)),
            shape=(len(offsets) - 1, n),
        )
        graph = (occurrences.T @ occurrences).tocsr()
        graph.setdiag(0)
        graph.eliminate_zeros()
        return graph
    playlist_of_row = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    sources, targets = [], []
    for distance in range(1, window + 1):
        same = playlist_of_row[:-distance] == playlist_of_row[distance:]
        a, b = indices[:-distance][same], indices[distance:][same]
        keep = a != b
        sources.append(a[keep])
        targets.append(b[keep])
        if not directed:
            sources.append(b[keep])
            targets.append(a[keep])
    rows = np.concatenate(sources) if sources else np.empty(0, dtype=np.int64)
    cols = np.concatenate(targets) if targets else np.empty(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))


def fit_cooccurrence(
    playlists_train: duckdb.DuckDBPyRelation, track_index: pd.DataFrame, graph: CooccurrenceParams
) -> Recommender:
    """Item co-occurrence neighbours: tracks that appear near the query tracks in training."""
    matrix = _pair_graph(playlists_train, track_index, graph.window, directed=False)
    logger.info("Co-occurrence graph: %d tracks, %d non-zero pairs", matrix.shape[0], matrix.nnz)
    return Cooccurrence(TrackIndex.from_frame(track_index), name="cooccurrence", graph=matrix)


def fit_transitions(
    playlists_train: duckdb.DuckDBPyRelation, track_index: pd.DataFrame, graph: TransitionParams
) -> Recommender:
    """First-order transitions: tracks that directly followed the query tracks in training."""
    matrix = _pair_graph(playlists_train, track_index, 1, directed=True)
    logger.info("Transition graph: %d tracks, %d non-zero pairs", matrix.shape[0], matrix.nnz)
    return Transitions(TrackIndex.from_frame(track_index), name="transitions", graph=matrix)


def fit_word2vec(
    playlists_train: duckdb.DuckDBPyRelation, track_index: pd.DataFrame, word2vec: Word2VecParams
) -> tuple[Recommender, dict]:
    """Track embeddings with gensim Word2Vec, scored by cosine or input·output similarity.

    Returns:
        The recommender (vectors over the catalog, see :class:`Embedding`) and training
        statistics (time, words per second, vocabulary).
    """
    _, offsets, indices = _rows_by_playlist(playlists_train, track_index)
    tokens = [str(i) for i in range(len(track_index))]
    corpus = PlaylistCorpus(tokens, indices, offsets, word2vec.max_sentence_length)
    model, stats = train_word2vec(corpus, word2vec.gensim_arguments())
    known = np.array([int(token) for token in model.wv.index_to_key], dtype=np.int64)
    has_vector = np.zeros(len(track_index), dtype=bool)
    has_vector[known] = True
    query_vectors = np.zeros((len(track_index), word2vec.vector_size), dtype=np.float32)
    if word2vec.scoring == "cosine":
        query_vectors[known] = model.wv.get_normed_vectors()
        item_vectors = query_vectors
    else:
        query_vectors[known] = model.wv.vectors
        item_vectors = np.zeros_like(query_vectors)
        item_vectors[known] = model.syn1neg if word2vec.negative else model.syn1
    stats["catalog_share_with_vector"] = float(has_vector.mean())
    recommender = Embedding(
        TrackIndex.from_frame(track_index),
        name="word2vec",
        query_vectors=query_vectors,
        item_vectors=item_vectors,
        has_vector=has_vector,
        scoring=word2vec.scoring,
    )
    return recommender, stats


# --- evaluation --------------------------------------------------------------------------------


def rank_targets(recommender: Recommender, queries: pd.DataFrame, evaluation: EvaluationParams):
    """Top-K lists, target ranks and fallbacks of a recommender on a set of queries."""
    index = recommender.index
    k_max = max(evaluation.k)
    if k_max > len(index):
        logger.warning(
            "evaluation.k goes up to %d but the catalog has %d tracks: lists are cut at %d, so "
            "metrics at larger K equal those at %d",
            k_max,
            len(index),
            len(index),
            len(index),
        )
    found = (index.lookup([target]) for target in queries["target"])
    targets = np.array([i[0] if len(i) else -1 for i in found], dtype=np.int64)
    batch = max(1, evaluation.batch_bytes // (4 * max(len(index), 1)))
    tops, fallbacks = [], []
    query_list = [Query.of(index.lookup(list(q)), evaluation.query_decay) for q in queries["query"]]
    for start in range(0, len(query_list), batch):
        scores, fell_back = recommender.scores(query_list[start : start + batch])
        tops.append(top_k(scores, k_max))
        fallbacks.append(fell_back)
    top = np.concatenate(tops) if tops else np.empty((0, k_max), dtype=np.int64)
    fell_back = np.concatenate(fallbacks) if fallbacks else np.empty(0, dtype=bool)
    return top, m.target_ranks(top, targets), targets, fell_back


def evaluate(recommender: Recommender, queries: pd.DataFrame, evaluation: EvaluationParams) -> dict:
    """Every metric of one recommender on one set of queries, ranking the whole catalog.

    Returns:
        ``hit_rate_at_K``, ``mrr_at_K``, ``ndcg_at_K`` and ``coverage_at_K`` for each K,
        ``mean_popularity_at_10``, ``hit_rate_at_10_<bucket>`` for head / torso / tail /
        unseen targets (and their query counts), ``fallback_rate``, ``unseen_target_rate``,
        ``queries`` and ``seconds``.
    """
    started = time.perf_counter()
    top, ranks, targets, fell_back = rank_targets(recommender, queries, evaluation)
    counts = recommender.index.counts
    result: dict[str, float] = {}
    for k in evaluation.k:
        result[f"hit_rate_at_{k}"] = m.hit_rate(ranks, k)
        result[f"mrr_at_{k}"] = m.mrr(ranks, k)
        result[f"ndcg_at_{k}"] = m.ndcg(ranks, k)
        result[f"coverage_at_{k}"] = m.coverage(top, k, len(counts))
    k_report = 10 if 10 in evaluation.k else evaluation.k[0]
    result[f"mean_popularity_at_{k_report}"] = m.mean_popularity(top, k_report, counts)
    by_bucket = m.hit_rate_by_bucket(ranks, targets, m.popularity_buckets(counts), k_report)
    for bucket, values in by_bucket.items():
        result[f"hit_rate_at_{k_report}_{bucket}"] = values["hit_rate"]
        result[f"queries_{bucket}"] = values["queries"]
    result["fallback_rate"] = float(fell_back.mean()) if len(fell_back) else math.nan
    result["unseen_target_rate"] = float((targets < 0).mean()) if len(targets) else math.nan
    result["queries"] = len(queries)
    result["seconds"] = time.perf_counter() - started
    logger.info(
        "%s: hit_rate@%d %.4f, ndcg@%d %.4f, fallback %.1f%% on %d queries (%.1f s)",
        recommender.name,
        k_report,
        result[f"hit_rate_at_{k_report}"],
        k_report,
        result[f"ndcg_at_{k_report}"],
        100 * result["fallback_rate"],
        len(queries),
        result["seconds"],
    )
    return result


# --- selection and test ------------------------------------------------------------------------


def select_candidate(evaluation: EvaluationParams, **validation_metrics: dict) -> dict:
    """Picks the candidate with the best validation score on ``selection_metric``.

    Ties go to the simpler candidate: baselines before word2vec, then by name.

    Returns:
        ``selected``, ``is_baseline``, ``metric``, ``value``, the validation ranking and a
        sentence saying what was chosen and why.
    """
    metric = evaluation.selection_metric
    if all(math.isnan(values[metric]) for values in validation_metrics.values()):
        raise ValueError(
            f"No candidate has a validation {metric}: the validation split has no playlist with "
            "two tracks or more. Use more data, or a larger split.validation share."
        )
    ranking = sorted(
        validation_metrics.items(),
        key=lambda item: (
            -np.nan_to_num(item[1][metric], nan=-np.inf),
            item[0] not in BASELINES,
            item[0],
        ),
    )
    best, scores = ranking[0]
    best_learned = next(((n, s) for n, s in ranking if n not in BASELINES), None)
    best_baseline = next(((n, s) for n, s in ranking if n in BASELINES), None)
    if best in BASELINES:
        explanation = f"The baseline '{best}' wins on validation {metric} ({scores[metric]:.4f})"
        if best_learned:
            explanation += f"; the best word2vec variant, '{best_learned[0]}', scores {best_learned[1][metric]:.4f}."
        explanation += " The baseline is selected."
    else:
        explanation = f"'{best}' wins on validation {metric} ({scores[metric]:.4f})"
        if best_baseline:
            explanation += f", ahead of the best baseline '{best_baseline[0]}' ({best_baseline[1][metric]:.4f})."
    logger.info("Selection: %s", explanation)
    return {
        "selected": best,
        "is_baseline": best in BASELINES,
        "metric": metric,
        "value": scores[metric],
        "validation_ranking": [{"candidate": n, metric: s[metric]} for n, s in ranking],
        "explanation": explanation,
    }


def evaluate_on_test(
    selection: dict,
    test_queries: pd.DataFrame,
    evaluation: EvaluationParams,
    **recommenders: Recommender,
) -> tuple[Recommender, dict]:
    """Scores the test split once: the selected candidate and every baseline.

    Returns:
        The selected recommender (named after its candidate) and test metrics per candidate.
    """
    chosen = selection["selected"]
    evaluated = [chosen] + [name for name in BASELINES if name in recommenders and name != chosen]
    results = {name: evaluate(recommenders[name], test_queries, evaluation) for name in evaluated}
    selected = recommenders[chosen]
    selected.name = chosen
    return selected, results


def build_results_table(
    selection: dict, test_metrics: dict, protocol: dict, **validation_metrics: dict
) -> pd.DataFrame:
    """One row per candidate and split: every metric, which was selected, the protocol."""
    rows = []
    for name, values in validation_metrics.items():
        rows.append({"candidate": name, "split": "validation", **values})
    for name, values in test_metrics.items():
        rows.append({"candidate": name, "split": "test", **values})
    table = pd.DataFrame(rows)
    table.insert(1, "kind", np.where(table["candidate"].isin(BASELINES), "baseline", "word2vec"))
    table.insert(2, "selected", table["candidate"] == selection["selected"])
    table.insert(3, "protocol", protocol["protocol"])
    metric = selection["metric"]
    return table.sort_values(["split", metric], ascending=[False, False], ignore_index=True)


def collect_mlflow_metrics(selection: dict, test_metrics: dict, **candidate_metrics: dict) -> dict:
    """Every figure of the run as MLflow metrics, named so the UI lines candidates up.

    Args:
        selection: From :func:`select_candidate`.
        test_metrics: From :func:`evaluate_on_test`.
        **candidate_metrics: ``<candidate>__validation`` and ``<candidate>__training`` dicts.

    Returns:
        ``{name: [{"value", "step"}]}`` with names ``<candidate>.validation.<metric>``,
        ``<candidate>.training.<statistic>``, ``<candidate>.test.<metric>`` and
        ``selected.test.<metric>`` (NaNs and non-numbers left out).
    """
    flat: dict[str, float] = {}
    for key, values in candidate_metrics.items():
        candidate, stage = key.rsplit("__", 1)
        flat |= {f"{candidate}.{stage}.{name}": value for name, value in values.items()}
    for candidate, values in test_metrics.items():
        flat |= {f"{candidate}.test.{name}": value for name, value in values.items()}
    flat |= {
        f"selected.test.{name}": value
        for name, value in test_metrics[selection["selected"]].items()
    }
    flat[f"selected.validation.{selection['metric']}"] = selection["value"]
    return {
        name: [{"value": float(value), "step": 0}]
        for name, value in flat.items()
        if isinstance(value, int | float) and not math.isnan(value)
    }
