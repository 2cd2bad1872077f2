"""A Kedro dataset for the SageMaker TensorFlow Serving package, ``model.tar.gz``.

Saving a Keras model exports it as a TensorFlow SavedModel with its serving signature, in the
layout the SageMaker TensorFlow Serving container expects: ``1/saved_model.pb`` and
``1/variables/`` at the archive root (a version folder of digits, not ``0``), plus
``metadata.json`` saying what the package holds and ``catalog.txt``, the track ids it can
recommend (for clients' "did you mean"; the container ignores both). Loading extracts the
archive into a temporary folder and returns its path and metadata, so checks run on exactly
what would be uploaded.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

from .atomic import atomic_write

MODEL_VERSION = "1"


def extract_archive(archive: Path, folder: Path) -> None:
    """Unpack a model.tar.gz into ``folder`` (refusing members that would land outside it)."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(folder, filter="data")


def read_catalog(root: Path) -> list[str]:
    """The track ids in an extracted package's ``catalog.txt``; empty if it has none."""
    path = root / "catalog.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@dataclass
class ModelArchive:
    """An extracted model.tar.gz: the folder (holding ``1/``), the archive and its metadata."""

    root: Path
    archive: Path
    metadata: dict

    @property
    def saved_model(self) -> Path:
        return self.root / MODEL_VERSION

    def catalog(self) -> list[str]:
        return read_catalog(self.root)


@dataclass
class ModelPackage:
    """What the deployment pipeline saves: the serving model and what it holds."""

    model: Any  # a Keras model
    input_signature: list  # tf.TensorSpec of the serving function's inputs
    metadata: dict
    catalog: list[str] | None = None  # track ids, written to catalog.txt for clients


class SageMakerModelArchiveDataset(AbstractDataset[ModelPackage, ModelArchive]):
    """``ModelPackage`` → model.tar.gz for SageMaker TF Serving; model.tar.gz → ``ModelArchive``."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        # A PurePosixPath, as in kedro-datasets: kedro-mlflow's MlflowArtifactDataset relies on it.
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def save(self, data: ModelPackage) -> None:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            data.model.export(
                str(root / MODEL_VERSION),
                format="tf_saved_model",
                input_signature=data.input_signature,
                verbose=False,
            )
            (root / "metadata.json").write_text(
                json.dumps(data.metadata, indent=2), encoding="utf-8"
            )
            if data.catalog is not None:
                (root / "catalog.txt").write_text("\n".join(data.catalog) + "\n", encoding="utf-8")
            with (
                atomic_write(Path(self._filepath)) as temporary,
                tarfile.open(temporary, "w:gz") as archive,
            ):
                for path in sorted(root.rglob("*")):
                    archive.add(path, arcname=str(path.relative_to(root)), recursive=False)

    def load(self) -> ModelArchive:
        root = Path(tempfile.mkdtemp(prefix="music_recsys_model_"))
        extract_archive(Path(self._filepath), root)
        metadata = json.loads((root / "metadata.json").read_text(encoding="utf-8"))
        return ModelArchive(root=root, archive=Path(self._filepath), metadata=metadata)
