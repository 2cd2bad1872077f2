"""Project-specific Kedro datasets."""

from .duckdb_parquet import DuckDBParquetDataset
from .figure import FigureDataset
from .playlist_csv import PlaylistCsvDataset, PlaylistFileError

__all__ = ["DuckDBParquetDataset", "FigureDataset", "PlaylistCsvDataset", "PlaylistFileError"]
