"""Project-specific Kedro datasets."""

from .duckdb_parquet import DuckDBParquetDataset
from .figure import FigureDataset
from .loader import Loader, PickleLoaderDataset
from .parquet_parts import ParquetPartsDataset
from .playlist_csv import PlaylistCsvDataset, PlaylistFileError
from .playlist_spark import SparkPlaylistTextDataset
from .playlist_table import PlaylistTableDataset
from .sagemaker_archive import SageMakerModelArchiveDataset

__all__ = [
    "DuckDBParquetDataset",
    "FigureDataset",
    "Loader",
    "PlaylistCsvDataset",
    "ParquetPartsDataset",
    "PickleLoaderDataset",
    "PlaylistFileError",
    "PlaylistTableDataset",
    "SageMakerModelArchiveDataset",
    "SparkPlaylistTextDataset",
]
