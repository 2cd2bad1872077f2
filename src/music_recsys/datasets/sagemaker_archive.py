"""A Kedro dataset for the SageMaker TensorFlow Serving package, ``model.tar.gz``.

Saving a :class:`~music_recsys.serving.package.ModelPackage` lays it out as the SageMaker
TensorFlow Serving container expects (:func:`~music_recsys.serving.package.write_contents`:
``1/saved_model.pb`` and ``1/variables/`` at the archive root, ``code/inference.py``,
``metadata.json``, ``catalog.txt``) and archives it atomically. Loading reads the metadata
(the archive's first member) and extracts the archive into a temporary folder when a check
asks for its contents, so checks run on exactly what would be uploaded.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from music_recsys.serving.package import (
    GZIP_LEVEL,
    ModelArchive,
    ModelPackage,
    read_metadata,
    write_contents,
)

from .atomic import atomic_write
from .file import FileDataset


class SageMakerModelArchiveDataset(FileDataset[ModelPackage, ModelArchive]):
    """``ModelPackage`` → model.tar.gz for SageMaker TF Serving; model.tar.gz → ``ModelArchive``."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(filepath, metadata)

    def save(self, data: ModelPackage) -> None:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            members = write_contents(root, data)
            with (
                atomic_write(Path(self._filepath)) as temporary,
                tarfile.open(temporary, "w:gz", compresslevel=GZIP_LEVEL) as archive,
            ):
                for path in members:
                    archive.add(path, arcname=str(path.relative_to(root)), recursive=False)

    def load(self) -> ModelArchive:
        archive = Path(self._filepath)
        return ModelArchive(archive=archive, metadata=read_metadata(archive))
