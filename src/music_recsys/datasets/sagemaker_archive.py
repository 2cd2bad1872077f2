"""A Kedro dataset for the SageMaker TensorFlow Serving package, ``model.tar.gz``.

Saving a Keras model exports it as a TensorFlow SavedModel with its serving signature, in the
layout the SageMaker TensorFlow Serving container expects: ``1/saved_model.pb`` and
``1/variables/`` at the archive root (a version folder of digits, not ``0``), plus
``code/inference.py``, the request handler the container runs in front of TF Serving,
``metadata.json`` saying what the package holds (and the handler's limits) and ``catalog.txt``,
the track ids it can recommend (for clients' "did you mean"). Loading reads the metadata
(the archive's first member) and extracts the archive into a temporary folder when a check
asks for its contents, so checks run on exactly what would be uploaded.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

from music_recsys.package_format import (
    GZIP_LEVEL,
    MODEL_VERSION,
    extract_archive,
    read_catalog,
    read_metadata,
)

from .atomic import atomic_write

__all__ = [
    "MODEL_VERSION",
    "ModelArchive",
    "ModelPackage",
    "SageMakerModelArchiveDataset",
    "export_saved_model",
    "extract_archive",
    "read_catalog",
    "read_metadata",
]


def export_saved_model(model: Any, path: Path, input_signature: list) -> None:
    """Exports a Keras model's ``call`` as a SavedModel with a ``serving_default`` signature.

    What ``model.export(format="tf_saved_model")`` does, but with every variable stored once:
    Keras 3.15 tracks the model's Keras variables and, separately, the TensorFlow variables
    its function captures, and the checkpoint holds both — a 580 MB graph became 1.16 GB. Here
    only the lookup layers are tracked (their tables are resources, not variables), and the
    variables are listed as the TensorFlow variables the function captured.
    """
    from keras.export import ExportArchive  # noqa: PLC0415 - TensorFlow, only when saving

    archive = ExportArchive()
    for layer in model._flatten_layers(include_self=False):  # noqa: SLF001
        if not layer.variables:
            archive.track(layer)
    archive.add_endpoint("serve", model.__call__, input_signature=input_signature)
    # The variables as TensorFlow variables — the objects the function captured, so saved once
    # — under ``.variables`` of the loaded SavedModel, as model.export would list them.
    archive.add_variable_collection("variables", [v.value for v in model.variables])
    archive.write_out(str(path), verbose=False)


@dataclass
class ModelArchive:
    """A model.tar.gz and its metadata; ``root`` is the extracted folder (holding ``1/``),
    extracted into a temporary folder the first time it is asked for."""

    archive: Path
    metadata: dict
    _root: Path | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="music_recsys_model_"))
            atexit.register(shutil.rmtree, self._root, True)  # 1 GB at full size: not left behind
            extract_archive(self.archive, self._root)
        return self._root

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
    code: dict[str, str] | None = None  # code/<name>: the container's handler (inference.py)


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
            export_saved_model(data.model, root / MODEL_VERSION, data.input_signature)
            (root / "metadata.json").write_text(
                json.dumps(data.metadata, indent=2), encoding="utf-8"
            )
            if data.catalog is not None:
                (root / "catalog.txt").write_text("\n".join(data.catalog) + "\n", encoding="utf-8")
            for name, text in (data.code or {}).items():
                (root / "code").mkdir(exist_ok=True)
                (root / "code" / name).write_text(text, encoding="utf-8")
            # metadata.json first: a reader finds it without decompressing the model.
            members = sorted(root.rglob("*"), key=lambda p: (p.name != "metadata.json", str(p)))
            with (
                atomic_write(Path(self._filepath)) as temporary,
                tarfile.open(temporary, "w:gz", compresslevel=GZIP_LEVEL) as archive,
            ):
                for path in members:
                    archive.add(path, arcname=str(path.relative_to(root)), recursive=False)

    def load(self) -> ModelArchive:
        archive = Path(self._filepath)
        return ModelArchive(archive=archive, metadata=read_metadata(archive))
