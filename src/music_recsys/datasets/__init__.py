"""Project-specific Kedro datasets."""

from .duckdb_parquet import DuckDBParquetDataset
from .playlist_csv import PlaylistCsvDataset, PlaylistFileError

__all__ = ["DuckDBParquetDataset", "PlaylistCsvDataset", "PlaylistFileError"]
