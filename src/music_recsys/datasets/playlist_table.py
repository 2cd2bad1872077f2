"""A Kedro dataset for the playlists a batch run scores: a Parquet table, or a playlists file.

``kedro run --pipelines batch`` scores the run's own playlists (``data/03_primary/
playlist_tracks.parquet``) unless ``--params batch_input=<path>`` names another source:

- **Parquet** (a file, or a folder of part files): one row per track, ``playlist_id``,
  ``position`` (the order within the playlist) and ``track_id`` (``<artist>|||<track>``) —
  the primary layer's own shape — or one row per playlist, ``playlist_id`` and ``track_ids``
  (a list, oldest first). Either loads as the long shape, ``playlist_id, position, track_id``.
- **A playlists file** (``.csv``; the #nowplaying Spotify format): its lines, exactly as
  :class:`~music_recsys.datasets.PlaylistCsvDataset` loads them, for the batch pipeline to
  parse and account for as data_processing does (``line_number``, ``line``, ``read_error``).

A missing source, a table without the columns above, or one without a row is refused with
the path and what to give instead, before anything is ranked. ``engine: spark`` loads Spark
DataFrames (``conf/spark/catalog.yml``), ``duckdb`` (the default) lazy DuckDB relations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from music_recsys import duckdb_sql, spark_sql

from .file import FileDataset
from .playlist_csv import PlaylistCsvDataset, PlaylistFileError
from .playlist_spark import SparkPlaylistTextDataset

LONG = ("playlist_id", "position", "track_id")
WIDE = ("playlist_id", "track_ids")
_HOW = (
    "give a Parquet table with playlist_id, position and track_id (one row per track) or "
    "playlist_id and track_ids (one row per playlist, a list oldest first), or a playlists "
    "file in the Spotify format (.csv)"
)


class PlaylistTableDataset(FileDataset[None, Any]):
    """Loads the playlists to score (see the module doc); read-only."""

    def __init__(
        self, filepath: str, engine: str = "duckdb", metadata: dict[str, Any] | None = None
    ) -> None:
        """Creates the dataset.

        Args:
            filepath: A ``.csv`` playlists file, a Parquet file or a folder of Parquet files.
            engine: ``duckdb`` or ``spark``.
            metadata: Free-form metadata (kedro-viz reads its layer from here).
        """
        if engine not in ("duckdb", "spark"):
            raise ValueError(f"engine must be 'duckdb' or 'spark', not {engine!r}")
        super().__init__(filepath, metadata)
        self._engine = engine

    def _describe_extra(self) -> dict[str, Any]:
        return {"engine": self._engine}

    def _exists(self) -> bool:
        return self.is_url or Path(self.filepath).exists()

    @property
    def is_playlists_file(self) -> bool:
        return self.filepath.lower().endswith(".csv")

    def load(self) -> Any:
        if self.is_playlists_file:
            reader = PlaylistCsvDataset if self._engine == "duckdb" else SparkPlaylistTextDataset
            return reader(filepath=self.filepath).load()
        if not self._exists():
            run = " --env spark" if self._engine == "spark" else ""
            raise PlaylistFileError(
                f"No playlists to score at '{self.filepath}': run `kedro run{run}` first (the "
                f"primary layer), or name a source with --params batch_input=<path>; {_HOW}."
            )
        table = self._spark_table() if self._engine == "spark" else self._duckdb_table()
        if self._is_empty(table):
            raise PlaylistFileError(f"'{self.filepath}' has no rows: no playlist to score.")
        return table

    def _columns_error(self, columns: list[str]) -> PlaylistFileError:
        return PlaylistFileError(f"'{self.filepath}' has the columns {', '.join(columns)}; {_HOW}.")

    def _duckdb_table(self) -> Any:
        path = Path(self.filepath)
        pattern = str(path / "**" / "*.parquet") if path.is_dir() else self.filepath
        try:
            table = duckdb_sql.connection().read_parquet(pattern)
        except Exception as error:  # duckdb.IOException, InvalidInputException, ...
            raise PlaylistFileError(
                f"'{self.filepath}' could not be read as Parquet: {error}; {_HOW}."
            ) from error
        if set(LONG) <= set(table.columns):
            return table.select(", ".join(LONG))
        if set(WIDE) <= set(table.columns):
            return duckdb_sql.sql_on(
                table,
                "SELECT playlist_id, generate_subscripts(track_ids, 1) - 1 AS position, "
                "unnest(track_ids) AS track_id FROM {input}",
            )
        raise self._columns_error(table.columns)

    def _spark_table(self) -> Any:
        from pyspark.sql import functions as F  # noqa: PLC0415, N812

        path = self.filepath if self.is_url else str(Path(self.filepath).resolve())
        table = spark_sql.session().read.parquet(path)
        if set(LONG) <= set(table.columns):
            return table.select(*LONG)
        if set(WIDE) <= set(table.columns):
            return table.select(
                "playlist_id", F.posexplode("track_ids").alias("position", "track_id")
            ).select(*LONG)
        raise self._columns_error(table.columns)

    def _is_empty(self, table: Any) -> bool:
        if spark_sql.is_spark_frame(table):
            return table.isEmpty()
        return not table.limit(1).fetchall()

    def save(self, data: None) -> None:
        raise PlaylistFileError(f"'{self.filepath}' is read-only: batch input is never written.")
