"""A Kedro dataset for files in the #nowplaying Spotify playlists format.

The format (Kaggle ``andrewmvd/spotify-playlists``, ``spotify_dataset.csv``) looks like CSV but is
not RFC 4180: the header has a space after each comma, every field is double-quoted, and quotes
*inside* a field are written as they are, unescaped (``"Matthew "Mdot" Finley"``). A strict CSV
reader therefore rejects or mangles those rows.

Loading does not parse fields. It returns every physical line of the file with its 1-based line
number as a lazy DuckDB relation, so that the ``data_processing`` pipeline can parse, recover and
account for each line in SQL. Lines that cannot even be read as text (invalid UTF-8, longer than
DuckDB's line limit) come back with ``read_error`` set instead of being dropped.

Saving writes a table of the four columns in exactly the file's format; it is how the demo data
and the test fixtures are written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from kedro.io import DatasetError

from music_recsys import duckdb_sql

from .atomic import atomic_write
from .file import FileDataset

logger = logging.getLogger(__name__)

COLUMNS = ("user_id", "artistname", "trackname", "playlistname")
HEADER = ", ".join(f'"{name}"' for name in COLUMNS)
FIELD_SEPARATOR = '","'

# A four-byte delimiter that never occurs in text: DuckDB then hands us each line whole.
_NO_DELIMITER = r"\x1e\x1f\x1d\x1c"
_MAX_REJECTED_LINE_CHARS = 1000
_HEADER_PROBE_BYTES = 64 * 1024

# DuckDB's reject error types, named for people.
READ_ERROR_REASONS = {
    "INVALID ENCODING": "invalid_utf8",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "TOO MANY COLUMNS": "control_characters",
}


class PlaylistFileError(DatasetError):
    """The raw playlists file is missing or is not in the expected format."""


def format_line(values: tuple[str, str, str, str] | list[str]) -> str:
    """Formats four values as one line of the file, the way the original file was written."""
    return '"' + FIELD_SEPARATOR.join(values) + '"'


def split_line(line: str) -> list[str]:
    """Splits one line of the file into its fields by the file's own rule (see the module doc)."""
    return line[1:-1].split(FIELD_SEPARATOR)


def check_header(filepath: str) -> None:
    """Raises :class:`PlaylistFileError` unless ``filepath`` starts with the playlists header."""
    path = Path(filepath)
    if not path.exists():
        raise PlaylistFileError(
            f"Raw playlists file not found: '{filepath}'. Download spotify_dataset.csv from Kaggle "
            "(andrewmvd/spotify-playlists) and pass its path with "
            "`kedro run --params raw_data_path=<path>`, or leave raw_data_path unset to use the "
            "generated demo data."
        )
    if path.is_dir():
        raise PlaylistFileError(f"'{filepath}' is a directory; raw_data_path must name a CSV file.")
    with path.open("rb") as stream:
        first = stream.read(_HEADER_PROBE_BYTES).split(b"\n", 1)[0]
    if not first.strip():
        raise PlaylistFileError(
            f"'{filepath}' line 1: the file is empty or starts with a blank line; expected the "
            f"header {HEADER}."
        )
    try:
        text = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError as error:
        raise PlaylistFileError(
            f"'{filepath}' line 1: the header is not UTF-8 text ({error.reason} at byte "
            f"{error.start}); is this a CSV file? Expected the header {HEADER}."
        ) from error
    found = tuple(name.strip().strip('"').strip().lower() for name in text.split(","))
    if found != COLUMNS:
        raise PlaylistFileError(
            f"'{filepath}' line 1: expected the header {HEADER} (the Spotify playlists format), "
            f"found {text[:200]!r}. Point raw_data_path at spotify_dataset.csv or a file with the "
            "same four columns."
        )


def _read_lines_sql(filepath: str) -> str:
    path = filepath.replace("'", "''")
    return (
        f"SELECT line FROM read_csv('{path}', columns={{'line': 'VARCHAR'}}, header=false, "
        f"auto_detect=false, skip=1, delim=E'{_NO_DELIMITER}', quote='', escape='', "
        "strict_mode=false, store_rejects=true)"
    )


def _reason_case() -> str:
    cases = " ".join(
        f"WHEN '{kind}' THEN '{reason}'" for kind, reason in READ_ERROR_REASONS.items()
    )
    return f"CASE error_type {cases} ELSE lower(replace(error_type, ' ', '_')) END"


# Accepted lines come back numbered 0, 1, 2, ... in file order (the table's rowid). When some
# lines were rejected, line numbers are recovered by adding back the rejected lines that came
# before each one: with q_j the j-th rejected data line (0-based), an accepted row k sits at
# data line k + #{j : q_j - j <= k}.
_ALL_READ_SQL = "SELECT rowid + 2 AS line_number, line, NULL::VARCHAR AS read_error FROM file_lines"
_WITH_REJECTS_SQL = """
WITH rejected AS (
    SELECT line::BIGINT AS line_number,
           min({reason}) AS read_error,
           left(ltrim(min(csv_line), chr(10) || chr(13)), {max_chars}) AS line
    FROM reject_errors
    GROUP BY line
),
shifts AS (
    SELECT (line_number - 2) - (row_number() OVER (ORDER BY line_number) - 1) AS first_row,
           row_number() OVER (ORDER BY line_number) AS n_rejected_before
    FROM rejected
),
steps AS (SELECT first_row, max(n_rejected_before) AS shift FROM shifts GROUP BY first_row)
SELECT (file_lines.rowid + coalesce(steps.shift, 0) + 2)::BIGINT AS line_number,
       file_lines.line,
       NULL::VARCHAR AS read_error
FROM file_lines ASOF LEFT JOIN steps ON file_lines.rowid >= steps.first_row
UNION ALL
SELECT line_number, line, read_error FROM rejected
ORDER BY line_number
"""


class PlaylistCsvDataset(FileDataset[pd.DataFrame, duckdb.DuckDBPyRelation]):
    """Reads and writes files in the #nowplaying Spotify playlists format.

    Example catalog entry::

        raw_playlists:
          type: music_recsys.datasets.PlaylistCsvDataset
          filepath: data/01_raw/spotify_dataset.csv
          duckdb_config: {threads: 2, memory_limit: 3GB}

    ``load()`` returns a DuckDB relation with one row per physical line after the header:
    ``line_number`` (1-based, as an editor shows it), ``line`` (the text without its line ending;
    NULL for an empty line) and ``read_error`` (NULL, or why the line could not be read as text).
    """

    def __init__(
        self,
        filepath: str,
        duckdb_config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            filepath: Local path of the CSV file.
            duckdb_config: DuckDB settings for reading (``threads``, ``memory_limit``, ...).
            metadata: Free-form metadata (kedro-viz reads its layer from here).
        """
        super().__init__(filepath, metadata)
        self._duckdb_config = dict(duckdb_config or {})

    def _describe_extra(self) -> dict[str, Any]:
        return {"duckdb_config": self._duckdb_config}

    def load(self) -> duckdb.DuckDBPyRelation:
        check_header(self.filepath)
        size_mb = Path(self.filepath).stat().st_size / 1e6
        logger.info("Reading lines of '%s' (%.1f MB) with DuckDB", self.filepath, size_mb)
        started = time.perf_counter()
        # A connection of its own: its lines table is freed with the relation, after parsing.
        connection = duckdb.connect(config=duckdb_sql.settings() | self._duckdb_config)
        try:
            connection.execute(f"CREATE TABLE file_lines AS {_read_lines_sql(self.filepath)}")
        except duckdb.Error as error:
            raise PlaylistFileError(
                f"'{self.filepath}': DuckDB could not read the file: {error}"
            ) from error
        n_lines = connection.sql("SELECT count(*) FROM file_lines").fetchall()[0][0]
        if (
            n_lines == 0
            and not connection.sql("SELECT count(*) FROM reject_errors").fetchall()[0][0]
        ):
            raise PlaylistFileError(
                f"'{self.filepath}' has the playlists header but no data line: nothing to learn "
                "from. Is it the complete file?"
            )
        n_rejected = connection.sql("SELECT count(DISTINCT line) FROM reject_errors").fetchall()[0][
            0
        ]
        if n_rejected:
            query = _WITH_REJECTS_SQL.format(
                reason=_reason_case(), max_chars=_MAX_REJECTED_LINE_CHARS
            )
        else:
            query = _ALL_READ_SQL
        relation = connection.sql(query)
        n_lines += n_rejected
        elapsed = time.perf_counter() - started
        logger.info(
            "Read %d lines in %.1f s (%.0f lines/s)", n_lines, elapsed, n_lines / max(elapsed, 1e-9)
        )
        return relation

    def save(self, data: pd.DataFrame) -> None:
        """Writes ``data`` (the four columns, in order) in the file's format, atomically."""
        missing = [name for name in COLUMNS if name not in data.columns]
        if missing:
            raise DatasetError(f"Cannot write '{self.filepath}': missing columns {missing}.")
        rows = data[list(COLUMNS)].astype(str).itertuples(index=False, name=None)
        with (
            atomic_write(Path(self.filepath)) as temporary,
            temporary.open("w", encoding="utf-8", newline="\n") as stream,
        ):
            stream.write(HEADER + "\n")
            for row_number, values in enumerate(rows, start=1):
                line = format_line(values)
                if "\n" in line or "\r" in line or split_line(line) != list(values):
                    raise DatasetError(
                        f"Cannot write row {row_number} to '{self.filepath}': {values!r} "
                        "would not read back as the same four values (a value contains a "
                        "line break or the field separator '\",\"')."
                    )
                stream.write(line + "\n")

    def preview(self, nrows: int = 5) -> dict[str, Any]:
        """The first ``nrows`` rows, split by the file's rule, for kedro-viz."""
        rows = []
        with Path(self.filepath).open(encoding="utf-8", errors="replace") as stream:
            next(stream, None)
            for line in stream:
                if len(rows) == nrows:
                    break
                fields = split_line(line.rstrip("\r\n"))
                rows.append((fields + [""] * len(COLUMNS))[: len(COLUMNS)])
        return pd.DataFrame(rows, columns=list(COLUMNS)).to_dict(orient="split")
