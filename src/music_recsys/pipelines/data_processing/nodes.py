"""Nodes of the data_processing pipeline: from the raw playlists file to playlist splits.

Every node is a pure function of its inputs. Tables travel as lazy DuckDB relations: a node
returns a query, and the catalog's dataset streams it to Parquet, so no Python code runs per row
and a file of any size passes in bounded memory. Every line read stays in ``clean_rows`` with an
``outcome`` (kept, rejected or filtered) and a ``reason``, and the filters count what they drop,
so ``account_for_rows`` can prove that every line read is accounted for.
"""

from __future__ import annotations

import logging
import math

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from music_recsys.duckdb_sql import sql, sql_on, to_pandas

from .params import CleaningParams, FilterParams, OrderCheckParams, SplitParams

logger = logging.getLogger(__name__)

TRACK_ID_SEPARATOR = "|||"

# One field of an RFC 4180 line: quoted (inner quotes doubled) or bare.
_RFC_FIELD = r'("(?:[^"]|"")*"|[^",]*)'
_RFC_LINE = "^" + ",".join([_RFC_FIELD] * 4) + "$"
_FIELDS = ("user_id", "artistname", "trackname", "playlistname")


# Four searches, not one over the fields joined: joining costs a string per line (1 s at 12 M).
_ANY_FIELD_HAS_A_QUOTE = " OR ".join(f"contains({name}, '\"')" for name in _FIELDS)


def _rfc_field(group: int) -> str:
    field = f"regexp_extract(line, '{_RFC_LINE}', {group})"
    return f"""CASE WHEN starts_with({field}, '"') THEN replace({field}[2:-2], '""', '"') ELSE {field} END"""


# Two readings of a line. The file's own: strip the outer quotes and split on '","' (the real
# file does not escape inner quotes, so `"Matthew "Mdot" Finley"` is one value). And RFC 4180
# CSV: doubled quotes inside quoted fields, unquoted fields allowed. They can only disagree on a
# line that holds a doubled quote ("") or does not split into four; such a line is read as RFC
# 4180 when it is valid RFC 4180 and by the file's rule otherwise. What neither reading can
# parse is rejected with its line number and the reason.
_PARSE_SQL = f"""
WITH split AS (
    SELECT line_number, line, read_error,
           coalesce(length(line) >= 2 AND starts_with(line, '"') AND ends_with(line, '"'), false)
               AS quoted,
           CASE WHEN quoted THEN string_split(line[2:-2], '","') END AS parts
    FROM raw_lines
), classified AS (
    SELECT *,
           CASE WHEN read_error IS NOT NULL THEN 'rejected'
                WHEN line IS NULL OR trim(line) = '' THEN 'blank_line'
                WHEN len(parts) = 4 AND NOT contains(line, '""') THEN 'split'
                WHEN regexp_full_match(line, '{_RFC_LINE}') THEN 'rfc4180'
                WHEN len(parts) = 4 THEN 'split'
                ELSE 'rejected' END AS method
    FROM split
), parsed AS (
    SELECT *,
           {
    ", ".join(
        f"CASE method WHEN 'split' THEN parts[{i}] WHEN 'rfc4180' THEN {_rfc_field(i)} END AS {name}"
        for i, name in enumerate(_FIELDS, start=1)
    )
}
    FROM classified
)
SELECT line_number,
       CASE WHEN method IN ('split', 'rfc4180') THEN 'parsed' ELSE method END AS outcome,
       CASE WHEN method NOT IN ('split', 'rfc4180') THEN NULL
            WHEN quoted AND NOT ({_ANY_FIELD_HAS_A_QUOTE}) THEN 'quoted'
            WHEN method = 'split' THEN 'inner_quotes'
            ELSE 'rfc4180' END AS quoting,
       {", ".join(_FIELDS)},
       CASE WHEN method <> 'rejected' THEN NULL
            WHEN read_error IS NOT NULL THEN read_error
            WHEN quoted THEN 'wrong_field_count'
            ELSE 'malformed_quoting' END AS reason,
       CASE WHEN method = 'rejected' AND read_error IS NULL AND quoted
            THEN 'found ' || len(parts) || ' fields separated by "," instead of 4' END AS detail,
       CASE WHEN method = 'rejected' THEN line END AS line
FROM parsed
"""


def parse_playlist_lines(raw_playlists: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Parses every line of the raw file into its four values, or sets it aside with a reason.

    Args:
        raw_playlists: One row per physical line (``line_number``, ``line``, ``read_error``), as
            :class:`~music_recsys.datasets.PlaylistCsvDataset` loads it.

    Returns:
        One row per line: ``line_number``; ``outcome`` (``parsed``, ``rejected`` or
        ``blank_line``); for parsed lines the four exact, untrimmed values and ``quoting`` (how
        they were read: ``quoted``, ``inner_quotes`` or ``rfc4180``); for rejected lines
        ``reason``, ``detail`` and the text as read (``line``).
    """
    return raw_playlists.query("raw_lines", _PARSE_SQL)


_WHITESPACE = "' ' || chr(9) || chr(160)"
_WHITESPACE_CHARS = ("' '", "chr(9)", "chr(160)")


def _trimmed(column: str) -> str:
    """``trim(column, whitespace)``, skipped where neither end is whitespace: trimming with a
    character set is three times slower than testing the ends (9 s against 2.5 s for three
    values of 12 M rows), and ``starts_with`` tests without making a substring."""
    padded = " OR ".join(
        f"{test}({column}, {char})"
        for test in ("starts_with", "ends_with")
        for char in _WHITESPACE_CHARS
    )
    return f"CASE WHEN {padded} THEN trim({column}, {_WHITESPACE}) ELSE {column} END"


def clean_playlist_rows(
    parsed_lines: duckdb.DuckDBPyRelation, cleaning: CleaningParams
) -> duckdb.DuckDBPyRelation:
    """Trims values, applies the empty-name rules, and gives every line read its outcome.

    The track id, built by :func:`filter_playlists`, is ``<artist>|||<track>``, the format of
    the tutorial this project grew from, so requests written for it keep working. A name that
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
    query = f"""
        WITH trimmed AS (
            SELECT line_number, outcome AS parse_outcome, reason AS parse_reason,
                   detail AS parse_detail, line AS parse_line, quoting,
                   {_trimmed("user_id")} AS user_id,
                   playlistname AS playlist_key,
                   {_trimmed("artistname")} AS artistname,
                   {_trimmed("trackname")} AS trackname
            FROM {{input}}
        ), judged AS (
            SELECT *,
                   CASE WHEN parse_outcome <> 'parsed' THEN NULL
                        WHEN contains(artistname, '{TRACK_ID_SEPARATOR}')
                             OR contains(trackname, '{TRACK_ID_SEPARATOR}')
                            THEN 'separator_in_name'
                        WHEN trackname = '' AND {cleaning.empty_track == "drop"} THEN 'empty_track'
                        WHEN artistname = '' AND {cleaning.empty_artist == "drop"}
                            THEN 'empty_artist'
                   END AS clean_reason
            FROM trimmed
        )
        SELECT line_number,
               CASE WHEN parse_outcome = 'parsed' THEN 'clean' ELSE 'parse' END AS stage,
               CASE WHEN parse_outcome = 'blank_line' THEN 'filtered'
                    WHEN parse_outcome = 'rejected' THEN 'rejected'
                    WHEN clean_reason IS NULL THEN 'kept'
                    WHEN clean_reason = 'separator_in_name' THEN 'rejected'
                    ELSE 'filtered' END AS outcome,
               CASE WHEN parse_outcome = 'parsed' THEN clean_reason
                    ELSE coalesce(parse_reason, parse_outcome) END AS reason,
               CASE WHEN clean_reason = 'separator_in_name'
                        THEN 'a name contains the track id separator {TRACK_ID_SEPARATOR}'
                    ELSE parse_detail END AS detail,
               CASE WHEN clean_reason = 'separator_in_name'
                        THEN concat_ws(' | ', user_id, artistname, trackname, playlist_key)
                    ELSE parse_line END AS line,
               quoting, user_id, playlist_key, artistname, trackname
        FROM judged
        """
    return sql_on(parsed_lines, query)


def filter_playlists(
    clean_rows: duckdb.DuckDBPyRelation, filters: FilterParams
) -> tuple[duckdb.DuckDBPyRelation, pd.DataFrame, dict]:
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
        (one row per playlist: ``playlistname`` is the trimmed name) and a summary of the
        counts.

    Raises:
        ValueError: If the filters leave no playlist at all.
    """
    kept = sql(
        f"""
        SELECT line_number, user_id, playlist_key, trackname,
               artistname || '{TRACK_ID_SEPARATOR}' || trackname AS track_id
        FROM {{clean}} WHERE outcome = 'kept'
        """,
        clean=clean_rows,
    )
    rows_in = kept.aggregate("count(*)").fetchall()[0][0]
    frequent = kept
    if filters.min_track_frequency > 1:
        frequent = sql(
            f"""
            SELECT * FROM {{kept}} SEMI JOIN (
                SELECT track_id FROM {{kept}} GROUP BY track_id
                HAVING count(*) >= {filters.min_track_frequency}
            ) USING (track_id)
            """,
            kept=kept,
        )
    sizes = to_pandas(
        sql(
            f"""
            SELECT user_id, playlist_key, trim(playlist_key, {_WHITESPACE}) AS playlistname,
                   count(*) AS n_tracks, min(line_number) AS first_line_number
            FROM {{frequent}} GROUP BY user_id, playlist_key
            """,
            frequent=frequent,
        )
    )
    n_frequent = int(sizes["n_tracks"].sum())
    long_enough = sizes["n_tracks"] >= filters.min_playlist_length
    rows_out = int(sizes.loc[long_enough, "n_tracks"].sum())
    summary = {
        "rows_in": int(rows_in),
        "rows_out": rows_out,
        "filtered": {
            "rare_track": int(rows_in) - n_frequent,
            "short_playlist": n_frequent - rows_out,
        },
    }
    if rows_out == 0:
        raise ValueError(
            f"No playlist is left after filtering {rows_in} rows with "
            f"min_track_frequency={filters.min_track_frequency} and "
            f"min_playlist_length={filters.min_playlist_length}: lower them in "
            "conf/base/parameters_data_processing.yml (or with --params filters.…)."
        )
    playlists = (
        sizes.loc[long_enough]
        .sort_values("first_line_number", ignore_index=True)
        .rename_axis("playlist_id")
        .reset_index()
    )
    playlist_tracks = sql(
        """
        SELECT p.playlist_id,
               row_number() OVER (PARTITION BY p.playlist_id ORDER BY f.line_number) - 1 AS position,
               f.track_id, f.trackname, f.line_number
        FROM {frequent} f JOIN {playlists} p USING (user_id, playlist_key)
        ORDER BY p.playlist_id, position
        """,
        frequent=frequent,
        playlists=playlists[["playlist_id", "user_id", "playlist_key"]],
    )
    summary["playlists"] = len(playlists)
    logger.info(
        "Kept %d of %d rows in %d playlists (filtered: %s)",
        rows_out,
        rows_in,
        len(playlists),
        summary["filtered"],
    )
    columns = ["playlist_id", "user_id", "playlistname", "n_tracks", "first_line_number"]
    return playlist_tracks, playlists[columns], summary


def build_track_table(playlist_tracks: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """One row per track: its names and how often it appears, most frequent first.

    Args:
        playlist_tracks: Output of :func:`filter_playlists`.

    Returns:
        ``track_id``, ``artistname``, ``trackname``, ``n_rows``, ``n_playlists``.
    """
    # track_id is <artist>|||<track>, so the artist is what precedes the title and separator.
    return sql(
        f"""
        WITH counted AS (
            SELECT track_id, any_value(trackname) AS trackname,
                   count(*) AS n_rows, count(DISTINCT playlist_id) AS n_playlists
            FROM {{playlist_tracks}} GROUP BY track_id
        )
        SELECT track_id,
               track_id[: length(track_id) - length(trackname) - {len(TRACK_ID_SEPARATOR)}] AS artistname,
               trackname, n_rows, n_playlists
        FROM counted ORDER BY n_rows DESC, track_id
        """,
        playlist_tracks=playlist_tracks,
    )


def check_track_order(
    playlist_tracks: duckdb.DuckDBPyRelation, order_check: OrderCheckParams
) -> dict:
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
    checked, n_sorted, chance = sql(
        """
        WITH ordered AS (
            SELECT playlist_id, trackname,
                   lag(trackname) OVER (PARTITION BY playlist_id ORDER BY position) AS previous
            FROM {playlist_tracks}
        ), per_playlist AS (
            SELECT count(*) AS n, bool_and(previous IS NULL OR previous <= trackname) AS is_sorted
            FROM ordered GROUP BY playlist_id
        )
        SELECT count(*) FILTER (WHERE n >= 2),
               count(*) FILTER (WHERE n >= 2 AND is_sorted),
               avg(CASE WHEN n >= 2 THEN exp(-lgamma(n + 1)) END)
        FROM per_playlist
        """,
        playlist_tracks=playlist_tracks,
    ).fetchall()[0]
    share = n_sorted / checked if checked else math.nan
    chance = float(chance) if checked else math.nan
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
        "playlists_checked": int(checked),
        "playlists_sorted_by_track_name": int(n_sorted),
        "sorted_share": share,
        "sorted_share_expected_by_chance": chance,
        "sorted_share_threshold": order_check.sorted_share_threshold,
        "row_order": "sorted_by_track_name" if is_sorted else "as_listed",
        "next_track_is_meaningful": not is_sorted,
        "explanation": explanation,
    }


SPLITS = ("train", "validation", "test")


def split_playlists(
    playlist_tracks: duckdb.DuckDBPyRelation, playlists: pd.DataFrame, split: SplitParams
) -> tuple[duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation, dict]:
    """Splits playlists (never single rows) into train, validation and test, reproducibly.

    Playlists are shuffled with ``numpy``'s seeded PCG64 generator and cut by the ratios, so the
    same seed and data give the same split on any machine.

    Args:
        playlist_tracks: Output of :func:`filter_playlists`.
        playlists: Output of :func:`filter_playlists` (``playlist_id``, ``n_tracks``).
        split: Seed and ratios.

    Returns:
        The rows (``playlist_id``, ``position``, ``track_id``) of the train, validation and
        test playlists, ordered by playlist and position, and a summary of the split sizes.

    Raises:
        ValueError: If there are too few playlists to give the train split any.
    """
    playlists = playlists.sort_values("playlist_id", ignore_index=True)
    order = np.random.default_rng(split.seed).permutation(len(playlists))
    n_train = round(split.train * len(playlists))
    n_validation = round(split.validation * len(playlists))
    if n_train == 0:
        raise ValueError(
            f"Only {len(playlists)} playlists: a {split.train:g} train share gives none. Use more "
            "data or lower the filters."
        )
    assignment = np.empty(len(playlists), dtype=object)
    assignment[order[:n_train]] = "train"
    assignment[order[n_train : n_train + n_validation]] = "validation"
    assignment[order[n_train + n_validation :]] = "test"
    assigned = pa.table(
        {
            "playlist_id": pa.array(playlists["playlist_id"].to_numpy()),
            "split": pa.array(assignment.tolist()),
        }
    )
    frames = {
        name: sql(
            f"""
            SELECT t.playlist_id, t.position, t.track_id
            FROM {{tracks}} t SEMI JOIN (SELECT playlist_id FROM {{assigned}} WHERE split = '{name}')
                USING (playlist_id)
            ORDER BY t.playlist_id, t.position
            """,
            tracks=playlist_tracks,
            assigned=assigned,
        )
        for name in SPLITS
    }
    n_tracks = playlists["n_tracks"].to_numpy()
    summary = {
        name: {
            "playlists": int((assignment == name).sum()),
            "rows": int(n_tracks[assignment == name].sum()),
        }
        for name in SPLITS
    }
    summary["seed"] = split.seed
    for name in SPLITS:
        if summary[name]["playlists"] == 0 and getattr(split, name) > 0:
            logger.warning("The %s split is empty: too few playlists for its share", name)
    logger.info("Split playlists: %s", {name: summary[name]["playlists"] for name in SPLITS})
    return frames["train"], frames["validation"], frames["test"], summary


def account_for_rows(clean_rows: duckdb.DuckDBPyRelation, filter_summary: dict) -> pd.DataFrame:
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
    counts = to_pandas(
        sql(
            """
            SELECT stage, outcome, reason, count(*) AS rows
            FROM {clean} WHERE outcome <> 'kept' GROUP BY ALL
            """,
            clean=clean_rows,
        )
    )
    lines_read = clean_rows.aggregate("count(*)").fetchall()[0][0]
    records = [("parse", "read", "lines after the header", int(lines_read))]
    records += sorted((r.stage, r.outcome, r.reason, int(r.rows)) for r in counts.itertuples())
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


def collect_rejected_rows(clean_rows: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """All rejected rows in one table, ordered by line number, each with its reason.

    Args:
        clean_rows: From :func:`clean_playlist_rows`.

    Returns:
        ``line_number``, ``reason``, ``detail`` and ``line`` (the text as read, or the parsed
        values for rows rejected after parsing).
    """
    return to_pandas(
        sql(
            """
            SELECT line_number, reason, detail, line FROM {clean} WHERE outcome = 'rejected'
            ORDER BY line_number
            """,
            clean=clean_rows,
        )
    )


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
