"""The model package: what ``model.tar.gz`` holds, how it is written and read (without Kedro;
TensorFlow only to export — ``music-recsys recommend``'s fast path imports this, numpy and
scipy only).

``model.tar.gz``: ``metadata.json`` first (what the package holds, the handler's limits),
``catalog.txt`` (the track ids, one a line), ``code/inference.py`` (the request handler the
SageMaker container runs), then ``1/`` — the SavedModel in the version folder SageMaker's
TensorFlow Serving container expects. :func:`write_contents` lays out a folder;
:class:`music_recsys.datasets.SageMakerModelArchiveDataset` archives it.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_VERSION = "1"
# gzip's fastest level: the arrays of a full-size model barely compress (level 9, tarfile's
# default, wrote a 2.9 GB package at 14 MB a minute and saved a few per cent).
GZIP_LEVEL = 1


def read_metadata(archive: Path) -> dict:
    """``metadata.json`` of a package, read without extracting the rest."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:  # written first, so this stops at once
            if member.name == "metadata.json":
                return json.loads(tar.extractfile(member).read().decode("utf-8"))
    raise ValueError(f"'{archive}' has no metadata.json: is it a music_recsys package?")


def extract_archive(archive: Path, folder: Path) -> None:
    """Unpack a model.tar.gz into ``folder`` (refusing members that would land outside it)."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(folder, filter="data")


def read_catalog(root: Path) -> list[str]:
    """The track ids in an extracted package's ``catalog.txt``; empty if it has none."""
    path = root / "catalog.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


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


def write_contents(root: Path, package: ModelPackage) -> list[Path]:
    """Lays ``package`` out in ``root`` (SavedModel, metadata, catalog, code); the files in
    archive order, ``metadata.json`` first (a reader finds it without decompressing the model)."""
    export_saved_model(package.model, root / MODEL_VERSION, package.input_signature)
    (root / "metadata.json").write_text(json.dumps(package.metadata, indent=2), encoding="utf-8")
    if package.catalog is not None:
        (root / "catalog.txt").write_text("\n".join(package.catalog) + "\n", encoding="utf-8")
    for name, text in (package.code or {}).items():
        (root / "code").mkdir(exist_ok=True)
        (root / "code" / name).write_text(text, encoding="utf-8")
    return sorted(root.rglob("*"), key=lambda p: (p.name != "metadata.json", str(p)))
