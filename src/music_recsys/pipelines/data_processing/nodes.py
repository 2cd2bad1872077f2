"""Nodes of the data_processing pipeline: from the raw playlists file to playlist splits.

Every node is a pure function of its inputs. Tables travel as lazy tables of the engine that
holds them (DuckDB relations by default, Spark DataFrames with ``--env spark``): a node returns
a query, and the catalog's dataset streams it to Parquet, so no Python code runs per row and a
file of any size passes in bounded memory. The queries themselves are in
:mod:`.sql_queries`, written once for both engines. Every line read stays in ``clean_rows`` with
an ``outcome`` (kept, rejected or filtered) and a ``reason``, and the filters count what they
drop, so ``account_for_rows`` can prove that every line read is accounted for.
"""

from __future__ import annotations

import logging
import math

import pandas as pd

from music_recsys.tables import Table, first_row, materialize, sql, to_pandas

from . import sql_queries as q
from .params import CleaningParams, FilterParams, OrderCheckParams, SplitParams

logger = logging.getLogger(__name__)

TRACK_ID_SEPARATOR = q.TRACK_ID_SEPARATOR
SPLITS = ("train", "validation", "test")


def parse_playlist_lines(raw_playlists: Table) -> Table:
    """Parses every line of the raw file into its four values, or sets it aside with a reason.

    Args:
        raw_playlists: One row per physical line (``line_number``, ``line``, ``read_error``), as
            :class:`~music_recsys.datasets.PlaylistCsvDataset` (or its Spark twin) loads it.

    Returns:
        One row per line: ``line_number``; ``outcome`` (``parsed``, ``rejected`` or
        ``blank_line``); for parsed lines the four exact, untrimmed values and ``quoting`` (how
        they were read: ``quoted``, ``inner_quotes`` or ``rfc4180``); for rejected lines
        ``reason``, ``detail`` and the text as read (``line``).
    """
    return sql(q.PARSE, raw_lines=raw_playlists)


def clean_playlist_rows(parsed_lines: Table, cleaning: CleaningParams) -> Table:
    """Trims values, applies the empty-name rules, and gives every line read its outcome.

    The track id, built by :func:`filter_playlists`, is ``<artist>|||<track>``, the format of
    the original tutorial's models, so requests written for those work here too. A name that
    itself contains ``|||`` would make two different tracks share an id; such rows are
    rejected, not merged.

    The parse's own outcomes (rejected and blank lines) are carried over, so this one table
    accounts for every line: it is read once, in one pass over the parsed lines (which need
    not be stored: at full size that saves writing and reading 12 M rows again).

    Args:
        parsed_lines: Output of :func:`parse_playlist_lines`.
        cleaning: Whether to keep or drop rows with an empty artist or track name.

    Returns:
        One row per line read: ``line_number``; ``stage`` (``parse`` or ``clean``: where its
        outcome was decided); ``outcome`` (``kept``, ``rejected`` or ``filtered``),
        ``reason``, ``detail`` and, for rejected lines, ``line`` (the text, or the parsed
        values); ``quoting``; trimmed ``user_id``, ``artistname`` and ``trackname``; and
        ``playlist_key`` (the exact playlist name, which identifies the playlist).
    """
    query = q.clean(
        drop_empty_track=cleaning.empty_track == "drop",
        drop_empty_artist=cleaning.empty_artist == "drop",
    )
    return sql(query, parsed=parsed_lines)


def filter_playlists(clean_rows: Table, filters: FilterParams) -> tuple[Table, Table, dict]:
    """Drops rare tracks, then short playlists, and numbers playlists and positions.

    Rare tracks go first, so a playlist is measured by the tracks it keeps. Dropping a short
    playlist can leave a track under ``min_track_frequency``; the filter is applied once, not
    until nothing changes, so that its effect is easy to state.

    A playlist is one user's rows with one playlist name (the exact name, so "Mix" and "Mix "
    stay two playlists). ``playlist_id`` numbers playlists in order of first appearance in the
    file; ``position`` is the order of a track within its playlist in the file, from 0.

    Args:
        clean_rows: Output of :func:`clean_playlist_rows`.
        filters: The minimum track frequency and playlist length.

    Returns:
        ``playlist_tracks`` (one row per track in a playlist: ``playlist_id``, ``position``,
        ``track_id`` (``<artist>|||<track>``), ``trackname``, ``line_number``), ``playlists``
        (one row per playlist: ``playlist_id``, ``user_id``, ``playlistname`` (trimmed),
        ``n_tracks``, ``first_line_number``) and a summary of the counts.

    Raises:
        ValueError: If the filters leave no playlist at all.
    """
    kept = sql(q.KEPT, clean=clean_rows)
    frequent = kept
    if filters.min_track_frequency > 1:
        frequent = sql(q.frequent_tracks(filters.min_track_frequency), kept=kept)
    sizes = materialize(sql(q.PLAYLIST_SIZES, frequent=frequent))
    rows_in, rows_frequent, rows_out, n_playlists = (
        int(value)
        for value in first_row(
            sql(q.filter_counts(filters.min_playlist_length), kept=kept, sizes=sizes)
        )
    )
    summary = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "filtered": {
            "rare_track": rows_in - rows_frequent,
            "short_playlist": rows_frequent - rows_out,
        },
    }
    if rows_out == 0:
        raise ValueError(
            f"No playlist is left after filtering {rows_in} rows with "
            f"min_track_frequency={filters.min_track_frequency} and "
            f"min_playlist_length={filters.min_playlist_length}: lower them in "
            "conf/base/parameters_data_processing.yml (or with --params filters.…)."
        )
    playlists = materialize(sql(q.numbered_playlists(filters.min_playlist_length), sizes=sizes))
    playlist_tracks = sql(q.PLAYLIST_TRACKS, frequent=frequent, playlists=playlists)
    summary["playlists"] = n_playlists
    logger.info(
        "Kept %d of %d rows in %d playlists (filtered: %s)",
        rows_out,
        rows_in,
        n_playlists,
        summary["filtered"],
    )
    columns = "playlist_id, user_id, playlistname, n_tracks, first_line_number"
    return (
        playlist_tracks,
        materialize(sql(f"SELECT {columns} FROM {{p}} ORDER BY playlist_id", p=playlists)),
        summary,
    )


def build_track_table(playlist_tracks: Table) -> Table:
    """One row per track: its names and how often it appears, most frequent first.

    Args:
        playlist_tracks: Output of :func:`filter_playlists`.

    Returns:
        ``track_id``, ``artistname``, ``trackname``, ``n_rows``, ``n_playlists``.
    """
    return sql(q.TRACKS, playlist_tracks=playlist_tracks)


def check_track_order(playlist_tracks: Table, order_check: OrderCheckParams) -> dict:
    """Measures how many playlists list their tracks sorted by track name.

    The real Spotify file lists each playlist's tracks alphabetically, not in play order, so
    "the track after this one" there means "the next title A-Z". Whether next-track prediction
    means anything is therefore measured here, not assumed. Titles are compared in code-point
    order, the order of the real file.

    Args:
        playlist_tracks: Output of :func:`filter_playlists`.
        order_check: Share of sorted playlists above which the rows count as sorted.

    Returns:
        The counts, the share expected if rows were in random order, and the verdict.
    """
    by_length = to_pandas(sql(q.ORDER_BY_LENGTH, playlist_tracks=playlist_tracks))
    checked = int(by_length["playlists"].sum())
    n_sorted = int(by_length["sorted"].sum())
    # A random order of n distinct titles is sorted with chance 1/n!.
    chance_sum = sum(
        int(row.playlists) * math.exp(-math.lgamma(int(row.n) + 1))
        for row in by_length.itertuples()
    )
    share = n_sorted / checked if checked else math.nan
    chance = chance_sum / checked if checked else math.nan
    is_sorted = checked > 0 and share >= order_check.sorted_share_threshold
    if not checked:
        explanation = "No playlist has 2+ tracks; order cannot be checked."
    else:
        explanation = (
            f"{share:.1%} of {checked} playlists with 2+ tracks list them sorted by track name "
            f"(random order would give {chance:.1%}); "
            + (
                "rows follow the title, not the order of play, so 'next track' is not meaningful."
                if is_sorted
                else "rows are taken to be in play order, so 'next track' is meaningful."
            )
        )
    logger.info("Track order check: %s", explanation)
    return {
        "playlists_checked": checked,
        "playlists_sorted_by_track_name": n_sorted,
        "sorted_share": share,
        "sorted_share_expected_by_chance": chance,
        "sorted_share_threshold": order_check.sorted_share_threshold,
        "row_order": "sorted_by_track_name" if is_sorted else "as_listed",
        "next_track_is_meaningful": not is_sorted,
        "explanation": explanation,
    }


def split_playlists(
    playlist_tracks: Table, playlists: Table, split: SplitParams
) -> tuple[Table, Table, Table, dict]:
    """Splits playlists (never single rows) into train, validation and test, reproducibly.

    Playlists are ordered by a seeded hash of their owner and name (``md5``, computed the same
    way by DuckDB and Spark) and cut by the ratios, so a playlist's split depends on its key,
    the seed and the number of playlists only: the same on any machine and either engine.

    Args:
        playlist_tracks: Output of :func:`filter_playlists`.
        playlists: Output of :func:`filter_playlists` (``playlist_id``, ``user_id``,
            ``playlistname``, ``n_tracks``).
        split: Seed and ratios.

    Returns:
        The rows (``playlist_id``, ``position``, ``track_id``) of the train, validation and
        test playlists, ordered by playlist and position, and a summary of the split sizes.

    Raises:
        ValueError: If there are too few playlists to give the train split any.
    """
    (n_playlists,) = first_row(sql("SELECT count(*) FROM {p}", p=playlists))
    n_train = round(split.train * n_playlists)
    n_validation = round(split.validation * n_playlists)
    if n_train == 0:
        raise ValueError(
            f"Only {n_playlists} playlists: a {split.train:g} train share gives none. Use more "
            "data or lower the filters."
        )
    assigned = materialize(
        sql(q.split_assignment(split.seed, n_train, n_validation), playlists=playlists)
    )
    frames = {
        name: sql(q.split_rows(name), tracks=playlist_tracks, assigned=assigned) for name in SPLITS
    }
    sizes = to_pandas(sql(q.SPLIT_SIZES, assigned=assigned)).set_index("split")
    summary = {
        name: {
            "playlists": int(sizes["playlists"].get(name, 0)),
            "rows": int(sizes["n_rows"].get(name, 0)),
        }
        for name in SPLITS
    }
    summary["seed"] = split.seed
    for name in SPLITS:
        if summary[name]["playlists"] == 0 and getattr(split, name) > 0:
            logger.warning("The %s split is empty: too few playlists for its share", name)
    logger.info("Split playlists: %s", {name: summary[name]["playlists"] for name in SPLITS})
    return frames["train"], frames["validation"], frames["test"], summary


def account_for_rows(clean_rows: Table, filter_summary: dict) -> pd.DataFrame:
    """Accounts for every line read: kept, rejected or filtered, per reason.

    Args:
        clean_rows: From :func:`clean_playlist_rows` (every line read, with its outcome).
        filter_summary: From :func:`filter_playlists`.

    Returns:
        A table (``stage``, ``outcome``, ``reason``, ``rows``) whose ``read`` row equals the sum
        of all ``kept``, ``rejected`` and ``filtered`` rows.

    Raises:
        RuntimeError: If the counts do not add up (a bug: some rows went unaccounted).
    """
    counts = to_pandas(sql(q.OUTCOME_COUNTS, clean=clean_rows))
    (lines_read,) = first_row(sql(q.LINES_READ, clean=clean_rows))
    lines_read = int(lines_read)
    records = [("parse", "read", "lines after the header", lines_read)]
    records += sorted((r.stage, r.outcome, r.reason, int(r.n_rows)) for r in counts.itertuples())
    records += [
        ("filter", "filtered", reason, n)
        for reason, n in sorted(filter_summary["filtered"].items())
    ]
    records.append(("filter", "kept", "in playlist_tracks", filter_summary["rows_out"]))
    table = pd.DataFrame(records, columns=["stage", "outcome", "reason", "rows"])
    by_outcome = table.groupby("outcome")["rows"].sum().to_dict()
    accounted = (
        by_outcome.get("kept", 0) + by_outcome.get("rejected", 0) + by_outcome.get("filtered", 0)
    )
    if lines_read != accounted:
        raise RuntimeError(
            f"Row accounting does not add up: read {lines_read} but accounted {accounted}: {records}"
        )
    logger.info(
        "Row accounting: read %d = kept %d + rejected %d + filtered %d (%s)",
        lines_read,
        by_outcome.get("kept", 0),
        by_outcome.get("rejected", 0),
        by_outcome.get("filtered", 0),
        ", ".join(
            f"{r.reason}: {r.rows}"
            for r in table.itertuples()
            if r.outcome in ("rejected", "filtered")
        ),
    )
    return table


def collect_rejected_rows(clean_rows: Table) -> pd.DataFrame:
    """All rejected rows in one table, ordered by line number, each with its reason.

    Args:
        clean_rows: From :func:`clean_playlist_rows`.

    Returns:
        ``line_number``, ``reason``, ``detail`` and ``line`` (the text as read, or the parsed
        values for rows rejected after parsing).
    """
    return to_pandas(sql(q.REJECTED, clean=clean_rows))


def data_processing_metrics(
    row_accounting: pd.DataFrame, track_order_report: dict, split_summary: dict
) -> dict:
    """The figures of this pipeline as MLflow metrics (``{name: [{"value", "step"}]}``).

    Args:
        row_accounting: From :func:`account_for_rows`.
        track_order_report: From :func:`check_track_order`.
        split_summary: From :func:`split_playlists`.

    Returns:
        Metrics named ``rows_<outcome>[.<reason>]``, ``sorted_playlist_share``,
        ``<split>_playlists`` and ``<split>_rows`` (kedro-mlflow prefixes them with the
        dataset name, ``data_processing_metrics.``).
    """
    metrics: dict[str, float] = {}
    for outcome, group in row_accounting.groupby("outcome"):
        metrics[f"rows_{outcome}"] = float(group["rows"].sum())
        if outcome in ("rejected", "filtered"):
            for reason, rows in group.groupby("reason")["rows"].sum().items():
                metrics[f"rows_{outcome}.{reason}"] = float(rows)
    if not math.isnan(track_order_report["sorted_share"]):
        metrics["sorted_playlist_share"] = float(track_order_report["sorted_share"])
    for name in ("train", "validation", "test"):
        metrics[f"{name}_playlists"] = float(split_summary[name]["playlists"])
        metrics[f"{name}_rows"] = float(split_summary[name]["rows"])
    return {name: [{"value": value, "step": 0}] for name, value in metrics.items()}
