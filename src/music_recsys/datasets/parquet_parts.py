"""A Kedro dataset for a table too large to hold: a folder of Parquet part files.

``save()`` takes the table as it is produced — an iterable of pandas frames (one part file
each, written as it arrives, so memory holds one part), a single frame, or a DuckDB relation
(streamed by DuckDB) — into a new folder, then swaps it for the old one: an interrupted save
leaves the previous table whole. ``load()`` returns a lazy DuckDB relation over every part.

The layout (``<name>.parquet/part-00000.parquet``, ...) is the one Spark writes, so pandas
(``pd.read_parquet(folder)``), DuckDB (``read_parquet('<folder>/*.parquet')``), Spark and
Arrow read either engine's output alike, part by part.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from music_recsys import duckdb_sql

from .file import FileDataset


class ParquetPartsDataset(FileDataset[Any, duckdb.DuckDBPyRelation]):
    """Folder of Parquet parts ⇄ lazy DuckDB relation (see the module doc).

    Example catalog entry::

        batch_recommendations:
          type: music_recsys.datasets.ParquetPartsDataset
          filepath: data/07_model_output/batch_recommendations.parquet
    """

    def __init__(
        self,
        filepath: str,
        compression: str = "zstd",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath, metadata)
        self._compression = compression

    def _describe_extra(self) -> dict[str, Any]:
        return {"compression": self._compression}

    def _exists(self) -> bool:
        return any(Path(self._filepath).glob("*.parquet"))

    def load(self) -> duckdb.DuckDBPyRelation:
        return duckdb_sql.connection().read_parquet(f"{self.filepath}/*.parquet")

    def save(self, data: Any) -> None:
        final = Path(self._filepath)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            if isinstance(data, duckdb.DuckDBPyRelation):
                data.write_parquet(
                    str(staging / "part-00000.parquet"), compression=self._compression
                )
            else:
                self._write_parts(staging, [data] if isinstance(data, pd.DataFrame) else data)
            old = final.with_name(f".{final.name}.{os.getpid()}.old")
            if final.exists():
                final.rename(old)
            staging.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _write_parts(self, folder: Path, parts: Iterable[pd.DataFrame]) -> None:
        schema = None
        for number, part in enumerate(parts):
            table = pa.Table.from_pandas(part, preserve_index=False)
            schema = schema or table.schema
            pq.write_table(
                table.cast(schema),
                folder / f"part-{number:05d}.parquet",
                compression=self._compression,
            )
        if schema is None:  # nothing produced: one empty part keeps the table readable
            pq.write_table(pa.table({}), folder / "part-00000.parquet")

    def preview(self, nrows: int = 10) -> dict[str, Any]:
        """The first ``nrows`` rows, for kedro-viz."""
        frame = duckdb_sql.to_pandas(self.load().limit(nrows))
        return frame.astype(object).where(frame.notna(), None).to_dict(orient="split")
