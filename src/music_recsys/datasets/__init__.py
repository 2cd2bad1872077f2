"""Project-specific Kedro datasets."""

from .duckdb_parquet import DuckDBParquetDataset
from .figure import FigureDataset
from .loader import Loader, PickleLoaderDataset
from .playlist_csv import PlaylistCsvDataset, PlaylistFileError
from .playlist_spark import SparkPlaylistTextDataset
from .sagemaker_archive import SageMakerModelArchiveDataset

__all__ = [
    "DuckDBParquetDataset",
    "FigureDataset",
    "Loader",
    "PlaylistCsvDataset",
    "PickleLoaderDataset",
    "PlaylistFileError",
    "SageMakerModelArchiveDataset",
    "SparkPlaylistTextDataset",
]
