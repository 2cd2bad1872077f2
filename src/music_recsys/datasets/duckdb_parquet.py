"""A Kedro dataset that keeps Parquet files as lazy DuckDB relations.

``load()`` returns a relation over the file on the shared connection
(:func:`music_recsys.duckdb_sql.connection`): nothing is read until a query runs, and DuckDB
reads only the columns and row groups it needs. ``save()`` takes a relation and lets DuckDB
stream it to Parquet, so a table of millions of rows never has to fit in Python; a pandas frame
or Arrow table is accepted too.

Use ``to_pandas(relation)`` (or ``relation.df()``) in a notebook to get a frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from music_recsys import duckdb_sql

from .atomic import atomic_write
from .file import FileDataset


class DuckDBParquetDataset(
    FileDataset[duckdb.DuckDBPyRelation | pd.DataFrame | pa.Table, duckdb.DuckDBPyRelation]
):
    """Parquet file ⇄ lazy DuckDB relation.

    Example catalog entry::

        playlist_tracks:
          type: music_recsys.datasets.DuckDBParquetDataset
          filepath: data/03_primary/playlist_tracks.parquet
    """

    def __init__(
        self,
        filepath: str,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            filepath: Local path of the Parquet file.
            save_args: Options for DuckDB's ``write_parquet`` (default: zstd compression).
            metadata: Free-form metadata (kedro-viz reads its layer from here).
        """
        super().__init__(filepath, metadata)
        self._save_args = {"compression": "zstd", **(save_args or {})}

    def _describe_extra(self) -> dict[str, Any]:
        return {"save_args": self._save_args}

    def load(self) -> duckdb.DuckDBPyRelation:
        return duckdb_sql.connection().read_parquet(self.filepath)

    def save(self, data: duckdb.DuckDBPyRelation | pd.DataFrame | pa.Table) -> None:
        with atomic_write(Path(self._filepath)) as temporary:
            duckdb_sql.relation(data).write_parquet(str(temporary), **self._save_args)

    def preview(self, nrows: int = 10) -> dict[str, Any]:
        """The first ``nrows`` rows, for kedro-viz."""
        frame = duckdb_sql.to_pandas(self.load().limit(nrows))
        return frame.astype(object).where(frame.notna(), None).to_dict(orient="split")
