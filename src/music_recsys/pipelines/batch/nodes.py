"""Nodes of the batch pipeline: the next tracks of every playlist, in one run.

The playlists are read and accounted for as data_processing reads them (a playlists file is
parsed and cleaned by the same queries; every line is kept, rejected with its line number, or
filtered, per reason); each playlist is asked what a client asks — its last
``evaluation.max_query_tracks`` tracks — and ranked by :func:`music_recsys.serving.batch.
rank_playlists`, the evaluation's ranking, a part at a time: DuckDB streams the parts through
one Python process; on Spark (``--env spark``) ``mapInPandas`` runs the same function where the
rows are. Memory is bounded by ``batch.playlists_per_part``, not by the number of playlists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pandas as pd

from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.ranking import Recommender
from music_recsys.datasets import Loader
from music_recsys.pipelines.data_processing.nodes import (
    account_for_rows,
    clean_playlist_rows,
    collect_rejected_rows,
    filter_playlists,
    parse_playlist_lines,
)
from music_recsys.pipelines.data_processing.params import CleaningParams, FilterParams
from music_recsys.progress import Progress
from music_recsys.serving.batch import rank_playlists
from music_recsys.tables import Table, first_row, materialize, on_spark, sql, to_pandas

from .params import BatchParams

logger = logging.getLogger(__name__)

# Every playlist of the input is scored, however short: no track or playlist filter.
NO_FILTERS = FilterParams(min_track_frequency=1, min_playlist_length=1)


def _from_playlists_file(table: Table) -> bool:
    """Whether ``table`` came from a playlists file: its lines, and data_processing's clean
    rows of them, carry the text in ``line``; a table's rows have no such column."""
    return "line" in table.columns


def clean_batch_input(batch_input: Table, cleaning: CleaningParams) -> Table:
    """Every row read, with its outcome: what :func:`read_batch_playlists` scores and counts.

    A playlists file's lines (``line`` column) go through data_processing's parse and clean
    (with ``cleaning``): its ``clean_rows``, one row per line, with its line number. A table's
    rows (which have no line number: a row is known by its values) are kept unless their
    ``playlist_id``, ``position`` or ``track_id`` is missing (``reason`` says which).
    """
    if _from_playlists_file(batch_input):
        return clean_playlist_rows(parse_playlist_lines(batch_input), cleaning)
    return sql(
        "SELECT playlist_id, position, track_id, "
        "CASE WHEN playlist_id IS NULL THEN 'no_playlist_id' "
        "WHEN track_id IS NULL OR track_id = '' THEN 'no_track_id' "
        "WHEN position IS NULL THEN 'no_position' END AS reason FROM {t}",
        t=batch_input,
    )


def read_batch_playlists(batch_clean_rows: Table) -> tuple[Table, pd.DataFrame, pd.DataFrame]:
    """The playlists to score, one row per track, and what became of every row read.

    A file's clean rows are numbered into playlists as data_processing numbers them
    (``playlist_id`` in order of first appearance), with no filter: every playlist is scored.

    Returns:
        ``playlist_id, position, track_id``; the accounting (``stage``, ``outcome``,
        ``reason``, ``rows``: read = kept + rejected + filtered); the rejected rows with their
        line number (a file) or values (a table) and reason.
    """
    if _from_playlists_file(batch_clean_rows):
        playlist_tracks, _, summary = filter_playlists(batch_clean_rows, NO_FILTERS)
        return (
            sql("SELECT playlist_id, position, track_id FROM {t}", t=playlist_tracks),
            account_for_rows(batch_clean_rows, summary),
            collect_rejected_rows(batch_clean_rows),
        )
    rejected = to_pandas(
        sql(
            "SELECT * FROM {n} WHERE reason IS NOT NULL "
            "ORDER BY playlist_id NULLS FIRST, position NULLS FIRST, track_id NULLS FIRST",
            n=batch_clean_rows,
        )
    )
    (read,) = first_row(sql("SELECT count(*) FROM {n}", n=batch_clean_rows))
    records = [("read", "read", "rows of the table", int(read))]
    records += [
        ("read", "rejected", reason, int(n))
        for reason, n in rejected["reason"].value_counts().sort_index().items()
    ]
    records.append(("read", "kept", "in the playlists scored", int(read) - len(rejected)))
    if len(rejected):
        logger.warning(
            "%d of %d rows set aside (batch_rejected_rows): %s",
            len(rejected),
            read,
            rejected["reason"].value_counts().to_dict(),
        )
    kept = sql(
        "SELECT playlist_id, position, track_id FROM {n} WHERE reason IS NULL", n=batch_clean_rows
    )
    return kept, pd.DataFrame(records, columns=["stage", "outcome", "reason", "rows"]), rejected


def playlists_so_far(playlist_tracks: Table, evaluation: EvaluationParams) -> Table:
    """One row per playlist: ``playlist_id``, ``seeds`` (its last ``max_query_tracks`` track
    ids, oldest first: what a client sends) and ``n_tracks``, ordered by ``playlist_id``."""
    n = evaluation.max_query_tracks
    if on_spark(playlist_tracks):
        from pyspark.sql import functions as F  # noqa: PLC0415, N812

        ordered = F.transform(
            F.array_sort(F.collect_list(F.struct("position", "track_id"))),
            lambda row: row["track_id"],
        )
        return (
            playlist_tracks.groupBy("playlist_id")
            .agg(ordered.alias("all_seeds"), F.count(F.lit(1)).alias("n_tracks"))
            .select(
                "playlist_id",
                F.when(F.size("all_seeds") > n, F.slice("all_seeds", -n, n))
                .otherwise(F.col("all_seeds"))
                .alias("seeds"),
                "n_tracks",
            )
            .orderBy("playlist_id")
        )
    return sql(
        f"SELECT playlist_id, list(track_id ORDER BY position)[-{n}:] AS seeds, "
        "count(*) AS n_tracks FROM {t} GROUP BY playlist_id ORDER BY playlist_id",
        t=playlist_tracks,
    )


def playlists_to_score(
    batch_input: Table, cleaning: CleaningParams, evaluation: EvaluationParams
) -> Table:
    """The batch pipeline's first three nodes in one call: the playlists so far of
    ``batch_input`` (for the deployment's Batch Transform, which scores the same playlists).
    A playlists file's clean rows are held in memory here; the batch pipeline stores them."""
    clean_rows = clean_batch_input(batch_input, cleaning)
    if _from_playlists_file(clean_rows) and not on_spark(clean_rows):
        clean_rows = materialize(clean_rows)  # off the file's own DuckDB connection
    playlist_tracks, _, _ = read_batch_playlists(clean_rows)
    return playlists_so_far(playlist_tracks, evaluation)


def recommend_next_tracks(
    batch_queries: Table,
    deployed_recommender: Loader,
    selected_recommender: Loader,
    batch: BatchParams,
    evaluation: EvaluationParams,
) -> Table | Iterator[pd.DataFrame]:
    """The top ``batch.k`` next tracks of every playlist, from the model ``batch.model`` names.

    Returns:
        On DuckDB, the parts as they are ranked (``batch.playlists_per_part`` playlists each;
        the catalog's dataset writes each as it comes); on Spark, a DataFrame ranked by
        ``mapInPandas`` when it is written. Rows: :data:`music_recsys.serving.batch.COLUMNS`.
    """
    recommender = _recommender(batch, deployed_recommender, selected_recommender)
    logger.info(
        "Next %d tracks of every playlist from the %s recommender '%s' (%s, %d tracks)",
        batch.k,
        batch.model,
        recommender.name,
        recommender.kind,
        len(recommender.index),
    )
    if on_spark(batch_queries):
        return _ranked_on_spark(batch_queries, recommender, batch, evaluation)
    return _ranked_parts(batch_queries, recommender, batch, evaluation)


def _recommender(batch: BatchParams, deployed: Loader, selected: Loader) -> Recommender:
    loader = deployed if batch.model == "deployed" else selected
    try:
        return loader()
    except FileNotFoundError:
        how = (
            "run `kedro run --pipelines deployment` first, or score with the selected "
            "recommender: --params batch.model=selected"
            if batch.model == "deployed"
            else "run `kedro run` first (the data_science pipeline selects it)"
        )
        raise FileNotFoundError(
            f"batch.model is '{batch.model}' but there is no model at {loader.filepath}: {how}."
        ) from None


def _ranked_parts(
    batch_queries: Table, recommender: Recommender, batch: BatchParams, evaluation: EvaluationParams
) -> Iterator[pd.DataFrame]:
    (total,) = first_row(sql("SELECT count(*) FROM {q}", q=batch_queries))
    progress = Progress(logger, "batch", int(total), "playlists", interval=10)
    reader = batch_queries.select("playlist_id, seeds").to_arrow_reader(batch.playlists_per_part)
    for part in reader:
        playlists = part.to_pandas()
        yield rank_playlists(recommender, playlists, batch.k, evaluation.batch_bytes)
        progress.advance(len(playlists))
    logger.info(
        "Ranked %s playlists in %.1f s (%.0f/s)",
        f"{progress.done:,}",
        progress.seconds,
        progress.done / max(progress.seconds, 1e-9),
    )


def _ranked_on_spark(
    batch_queries: Table, recommender: Recommender, batch: BatchParams, evaluation: EvaluationParams
) -> Table:
    k, budget = batch.k, evaluation.batch_bytes

    def rank_parts(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for playlists in parts:
            yield rank_playlists(recommender, playlists, k, budget)

    schema = (
        f"playlist_id {dict(batch_queries.dtypes)['playlist_id']}, rank int, track_id string, "
        "artist string, track string, score float, fallback boolean"
    )  # music_recsys.serving.batch.COLUMNS
    return batch_queries.select("playlist_id", "seeds").mapInPandas(rank_parts, schema)


def summarize_batch(
    batch_recommendations: Table,
    batch_queries: Table,
    batch_row_accounting: pd.DataFrame,
    batch: BatchParams,
) -> dict:
    """What the batch run wrote: playlists asked and answered, fallbacks, rows; and what
    became of the rows read. Raises if a playlist went unanswered (a bug, never silent)."""
    asked, short = (
        int(v)
        for v in first_row(
            sql("SELECT count(*), count(*) FILTER (WHERE n_tracks = 1) FROM {q}", q=batch_queries)
        )
    )
    answered, fell_back, rows = (
        int(v or 0)
        for v in first_row(
            sql(
                "SELECT count(DISTINCT playlist_id), count(DISTINCT playlist_id) FILTER "
                "(WHERE fallback), count(*) FROM {r}",
                r=batch_recommendations,
            )
        )
    )
    if answered != asked:
        raise RuntimeError(f"{asked} playlists were asked but {answered} answered")
    by_outcome = batch_row_accounting.groupby("outcome")["rows"].sum().astype(int).to_dict()
    summary = {
        "model": batch.model,
        "k": batch.k,
        "playlists": asked,
        "playlists_with_one_track": short,
        "fell_back_to_popular": fell_back,
        "recommendations": rows,
        "rows": {
            "read": by_outcome.get("read", 0),
            "kept": by_outcome.get("kept", 0),
            "rejected": by_outcome.get("rejected", 0),
            "filtered": by_outcome.get("filtered", 0),
        },
        "accounting": batch_row_accounting.to_dict(orient="records"),
    }
    logger.info(
        "Batch: %s playlists answered (%s with no known track got the most popular), %s rows; "
        "rows read %s = kept %s + rejected %s + filtered %s",
        f"{asked:,}",
        f"{fell_back:,}",
        f"{rows:,}",
        *(f"{summary['rows'][name]:,}" for name in ("read", "kept", "rejected", "filtered")),
    )
    return summary
