"""Project-specific Kedro datasets."""

from .duckdb_parquet import DuckDBParquetDataset
from .figure import FigureDataset
from .playlist_csv import PlaylistCsvDataset, PlaylistFileError
from .sagemaker_archive import ModelArchive, ModelPackage, SageMakerModelArchiveDataset

__all__ = [
    "DuckDBParquetDataset",
    "FigureDataset",
    "ModelArchive",
    "ModelPackage",
    "PlaylistCsvDataset",
    "PlaylistFileError",
    "SageMakerModelArchiveDataset",
]
