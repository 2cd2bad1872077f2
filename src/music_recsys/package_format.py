"""The model package's layout, readable without Kedro or TensorFlow (``music-recsys recommend``
imports only this, numpy and scipy on its fast path).

``model.tar.gz``: ``metadata.json`` first (what the package holds), ``catalog.txt`` (the track
ids, one a line), then ``1/`` — the SavedModel in the version folder SageMaker's TensorFlow
Serving container expects. :mod:`music_recsys.datasets.sagemaker_archive` writes it.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

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
