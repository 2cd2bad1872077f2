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
from collections.abc import Callable, Iterator
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from music_recsys.duckdb_sql import sql, to_pandas
from music_recsys.progress import Progress

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
)
from .word2vec import PlaylistCorpus, WordVectors, train_word2vec

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


def fit_most_popular(track_index: pd.DataFrame) -> tuple[Recommender, dict]:
    """The most-popular baseline: the same ranking for every query."""
    started = time.perf_counter()
    model = MostPopular(TrackIndex.from_frame(track_index), name="most_popular")
    return model, {"fit_seconds": time.perf_counter() - started}


def _pair_graph(
    playlists_train, track_index: pd.DataFrame, window: int | None, directed: bool
) -> sp.csr_matrix:
    """Counts of track pairs at most ``window`` positions apart in the same playlist.

    ``directed``: only (earlier, later) pairs; otherwise both directions. ``window=None``: any
    two tracks of a playlist (computed as XᵀX on the playlist × track matrix).

    Pairs are counted one distance at a time into a CSR matrix with 32-bit indices, and the
    undirected graph is that matrix plus its transpose, so memory follows the graph's non-zeros
    rather than the number of pairs (125 M pairs at full size).
    """
    _, offsets, indices = _rows_by_playlist(playlists_train, track_index)
    n = len(track_index)
    playlist_of_row = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))
    if window is None:
        occurrences = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), (playlist_of_row, indices)),
            shape=(len(offsets) - 1, n),
        )
        graph = (occurrences.T @ occurrences).tocsr()
        graph.setdiag(0)
        graph.eliminate_zeros()
        return graph
    indices = indices.astype(np.int32)
    counts = sp.csr_matrix((n, n), dtype=np.float32)
    for distance in range(1, window + 1):
        same = playlist_of_row[:-distance] == playlist_of_row[distance:]
        earlier, later = indices[:-distance][same], indices[distance:][same]
        keep = earlier != later
        earlier, later = earlier[keep], later[keep]
        pairs = sp.csr_matrix(
            (np.ones(len(earlier), dtype=np.float32), (earlier, later)), shape=(n, n)
        )
        del same, earlier, later, keep
        counts = counts + pairs
        del pairs
    if not directed:
        counts = (counts + counts.T).tocsr()
    counts.sort_indices()
    return counts


def fit_cooccurrence(
    playlists_train: duckdb.DuckDBPyRelation, track_index: pd.DataFrame, graph: CooccurrenceParams
) -> tuple[Recommender, dict]:
    """Item co-occurrence neighbours: tracks that appear near the query tracks in training."""
    started = time.perf_counter()
    matrix = _pair_graph(playlists_train, track_index, graph.window, directed=False)
    logger.info("Co-occurrence graph: %d tracks, %d non-zero pairs", matrix.shape[0], matrix.nnz)
    model = Cooccurrence(TrackIndex.from_frame(track_index), name="cooccurrence", graph=matrix)
    return model, {"fit_seconds": time.perf_counter() - started, "graph_nonzeros": matrix.nnz}


def fit_transitions(
    playlists_train: duckdb.DuckDBPyRelation, track_index: pd.DataFrame, graph: TransitionParams
) -> tuple[Recommender, dict]:
    """First-order transitions: tracks that directly followed the query tracks in training."""
    started = time.perf_counter()
    matrix = _pair_graph(playlists_train, track_index, 1, directed=True)
    logger.info("Transition graph: %d tracks, %d non-zero pairs", matrix.shape[0], matrix.nnz)
    model = Transitions(TrackIndex.from_frame(track_index), name="transitions", graph=matrix)
    return model, {"fit_seconds": time.perf_counter() - started, "graph_nonzeros": matrix.nnz}


def train_word_vectors(
    playlists_train: duckdb.DuckDBPyRelation,
    track_index: pd.DataFrame,
    word2vec: Word2VecParams,
    name: str = "word2vec",
) -> tuple[WordVectors, dict]:
    """Trains gensim Word2Vec on the training playlists (see :mod:`.word2vec`).

    Returns:
        Input and output vectors over the catalog (zero rows for tracks under ``min_count``)
        and training statistics (time, words per second, vocabulary, epochs trained).
    """
    started = time.perf_counter()
    _, offsets, indices = _rows_by_playlist(playlists_train, track_index)
    tokens = [str(i) for i in range(len(track_index))]
    corpus = PlaylistCorpus(tokens, indices, offsets, word2vec.max_sentence_length)
    model, stats = train_word2vec(
        corpus, word2vec.gensim_arguments(), name, word2vec.max_training_seconds
    )
    known = np.array([int(token) for token in model.wv.index_to_key], dtype=np.int64)
    has_vector = np.zeros(len(track_index), dtype=bool)
    has_vector[known] = True
    input_vectors = np.zeros((len(track_index), word2vec.vector_size), dtype=np.float32)
    input_vectors[known] = model.wv.vectors
    output_vectors = np.zeros_like(input_vectors)
    output_vectors[known] = model.syn1neg if word2vec.negative else model.syn1
    stats["catalog_share_with_vector"] = float(has_vector.mean())
    stats["fit_seconds"] = time.perf_counter() - started
    stats["settings"] = word2vec.training_settings()
    return WordVectors(input_vectors, output_vectors, has_vector), stats


def word2vec_recommender(
    word_vectors: WordVectors,
    word2vec_training: dict,
    playlists_train: duckdb.DuckDBPyRelation,
    track_index: pd.DataFrame,
    word2vec: Word2VecParams,
    name: str = "word2vec",
    trained_by: str = "",
) -> tuple[Recommender, dict]:
    """A word2vec recommender: trained vectors scored by cosine or input·output similarity.

    Variants whose settings in conf differ only in ``scoring`` share one training
    (``trained_by`` names the variant that trained it); the statistics then say so, and their
    fit cost is the shared training's. If ``--params`` made the settings differ after all, the
    variant trains its own vectors (and the log says so).
    """
    if trained_by and word2vec_training.get("settings") != word2vec.training_settings():
        logger.warning(
            "Settings differ from %s's at run time (changed with --params?): training "
            "separately instead of sharing its vectors",
            trained_by,
        )
        word_vectors, word2vec_training = train_word_vectors(
            playlists_train, track_index, word2vec, name
        )
        trained_by = ""
    started = time.perf_counter()
    known = word_vectors.has_vector
    if word2vec.scoring == "cosine":
        norms = np.linalg.norm(word_vectors.input_vectors, axis=1, keepdims=True)
        query_vectors = np.where(
            known[:, None], word_vectors.input_vectors / np.maximum(norms, 1e-12), 0
        )
        query_vectors = query_vectors.astype(np.float32)
        item_vectors = query_vectors
    else:
        query_vectors, item_vectors = word_vectors.input_vectors, word_vectors.output_vectors
    recommender = Embedding(
        TrackIndex.from_frame(track_index),
        name=name,
        query_vectors=query_vectors,
        item_vectors=item_vectors,
        has_vector=known,
        scoring=word2vec.scoring,
    )
    stats = dict(word2vec_training)
    stats["fit_seconds"] = word2vec_training["fit_seconds"] + time.perf_counter() - started
    if trained_by:
        stats["training_shared_with"] = trained_by
    return recommender, stats


def fit_word2vec(
    playlists_train: duckdb.DuckDBPyRelation, track_index: pd.DataFrame, word2vec: Word2VecParams
) -> tuple[Recommender, dict]:
    """Trains and scores one word2vec variant (:func:`train_word_vectors`, then
    :func:`word2vec_recommender`)."""
    vectors, stats = train_word_vectors(playlists_train, track_index, word2vec)
    return word2vec_recommender(vectors, stats, playlists_train, track_index, word2vec)


# --- evaluation --------------------------------------------------------------------------------


class Ranked(NamedTuple):
    """What a recommender answered for a set of queries (see :func:`rank_targets`)."""

    top: np.ndarray  # int64 [queries, K]: catalog indices, best first; -1 where none is left
    scores: np.ndarray  # float32 [queries, K]
    ranks: np.ndarray  # float [queries]: 0-based rank of the target in top, inf if absent
    targets: np.ndarray  # int64 [queries]: catalog index of the target, -1 if not in the catalog
    fell_back: np.ndarray  # bool [queries]


def batches(queries: list[Query], cost, budget_bytes: int) -> Iterator[slice]:
    """Consecutive slices of ``queries`` whose summed ``cost(query)`` stays within the budget
    (a slice holds at least one query, however costly)."""
    start, used = 0, 0
    for i, query in enumerate(queries):
        need = cost(query)
        if i > start and used + need > budget_bytes:
            yield slice(start, i)
            start, used = i, 0
        used += need
    if start < len(queries):
        yield slice(start, len(queries))


def rank_targets(
    recommender: Recommender, queries: pd.DataFrame, evaluation: EvaluationParams, what: str = ""
) -> Ranked:
    """Top-K lists, their scores, target ranks and fallbacks of a recommender on a set of queries.

    Queries are ranked in batches whose working memory stays within ``evaluation.batch_bytes``
    (by the recommender's own estimate), and progress is logged every 30 s.
    """
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
    query_list = [Query.of(index.lookup(list(q)), evaluation.query_decay) for q in queries["query"]]
    width = min(k_max, len(index))
    top = np.full((len(query_list), width), -1, dtype=np.int64)
    scores = np.zeros((len(query_list), width), dtype=np.float32)
    fell_back = np.zeros(len(query_list), dtype=bool)
    progress = Progress(logger, what or recommender.name, len(query_list), "queries")
    for part in batches(query_list, recommender.rank_cost, evaluation.batch_bytes):
        top[part], scores[part], fell_back[part] = recommender.rank(query_list[part], k_max)
        progress.advance(part.stop - part.start)
    return Ranked(top, scores, m.target_ranks(top, targets), targets, fell_back)


def evaluate(recommender: Recommender, queries: pd.DataFrame, evaluation: EvaluationParams) -> dict:
    """Every metric of one recommender on one set of queries, ranking the whole catalog.

    Returns:
        ``hit_rate_at_K``, ``mrr_at_K``, ``ndcg_at_K`` and ``coverage_at_K`` for each K,
        ``mean_popularity_at_10``, ``hit_rate_at_10_<bucket>`` for head / torso / tail /
        unseen targets (and their query counts), ``fallback_rate``, ``unseen_target_rate``,
        ``queries`` and ``evaluation_seconds``.
    """
    started = time.perf_counter()
    top, _, ranks, targets, fell_back = rank_targets(recommender, queries, evaluation)
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
    result["evaluation_seconds"] = time.perf_counter() - started
    logger.info(
        "%s: hit_rate@%d %.4f, ndcg@%d %.4f, fallback %.1f%% on %d queries (%.1f s)",
        recommender.name,
        k_report,
        result[f"hit_rate_at_{k_report}"],
        k_report,
        result[f"ndcg_at_{k_report}"],
        100 * result["fallback_rate"],
        len(queries),
        result["evaluation_seconds"],
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
    **recommenders: Callable[[], Recommender],
) -> tuple[Recommender, dict]:
    """Scores the test split once: the selected candidate and every baseline.

    Args:
        selection: From :func:`select_candidate`.
        test_queries: The test split's queries.
        evaluation: How to evaluate.
        **recommenders: A loader per candidate (``<candidate>.recommender@loader``): only the
            selected candidate and the baselines are loaded, one at a time.

    Returns:
        The selected recommender (named after its candidate) and test metrics per candidate.
    """
    chosen = selection["selected"]
    evaluated = [chosen] + [name for name in BASELINES if name in recommenders and name != chosen]
    results = {}
    for name in evaluated:
        model = recommenders[name]()
        model.name = name
        results[name] = evaluate(model, test_queries, evaluation)
        if name == chosen:
            selected = model
        del model
    return selected, results


def _by_candidate(candidate_metrics: dict) -> dict[str, dict[str, dict]]:
    """``{"<candidate>__<stage>": values}`` → ``{candidate: {stage: values}}``."""
    grouped: dict[str, dict[str, dict]] = {}
    for key, values in candidate_metrics.items():
        candidate, stage = key.rsplit("__", 1)
        grouped.setdefault(candidate, {})[stage] = values
    return grouped


def build_results_table(
    selection: dict, test_metrics: dict, protocol: dict, **candidate_metrics: dict
) -> pd.DataFrame:
    """One row per candidate and split: every metric and what it cost, which was selected.

    Args:
        selection: From :func:`select_candidate`.
        test_metrics: From :func:`evaluate_on_test`.
        protocol: From :func:`choose_protocol`.
        **candidate_metrics: ``<candidate>__validation`` and ``<candidate>__training`` dicts.

    Returns:
        ``candidate``, ``kind``, ``selected``, ``protocol``, ``split``, ``fit_seconds`` (the
        training the candidate's model took, shared or not), ``fit_shared_with``, word2vec's
        ``epochs_configured`` and ``epochs_trained`` (fewer when its time budget ran out),
        ``evaluation_seconds`` and every metric.
    """
    grouped = _by_candidate(candidate_metrics)
    rows = []
    for name, stages in grouped.items():
        training = stages.get("training", {})
        cost = {
            "fit_seconds": training.get("fit_seconds", math.nan),
            "fit_shared_with": training.get("training_shared_with", ""),
            "epochs_configured": training.get("epochs_configured", math.nan),
            "epochs_trained": training.get("epochs_trained", math.nan),
        }
        rows.append({"candidate": name, "split": "validation", **cost, **stages["validation"]})
        if name in test_metrics:
            rows.append({"candidate": name, "split": "test", **cost, **test_metrics[name]})
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
    for candidate, stages in _by_candidate(candidate_metrics).items():
        for stage, values in stages.items():
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
