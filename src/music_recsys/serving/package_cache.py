"""A local cache of model packages, so that asking one again costs milliseconds, not seconds.

``model.tar.gz`` is extracted once into ``<cache>/<sha256 of the archive>/`` (the checksum is
remembered by path, size and modification time, so an unchanged archive is not hashed again).
The first time, the SavedModel's variables are also written there as ``.npy`` files; later
answers load them memory-mapped and rank with the evaluation's own code
(:mod:`music_recsys.core.ranking`), which the deployment's parity check
proved to rank as the SavedModel does — without importing TensorFlow (seconds) and reading
only the parts of the arrays a request touches.

The cache lives in ``$MUSIC_RECSYS_CACHE``, else ``$XDG_CACHE_HOME/music_recsys``, else
``~/.cache/music_recsys``; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from music_recsys.core.catalog import TrackIndex
from music_recsys.kinds import registry
from music_recsys.serving.package import MODEL_VERSION, extract_archive

ARRAYS = "arrays"
_MEMO = "checksums.json"


def cache_root() -> Path:
    """Where packages are cached (see the module doc)."""
    if os.environ.get("MUSIC_RECSYS_CACHE"):
        return Path(os.environ["MUSIC_RECSYS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "music_recsys"


def checksum(archive: Path, root: Path) -> str:
    """The archive's SHA-256, remembered in the cache by (path, size, modification time)."""
    stat = archive.stat()
    key = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_path = root / _MEMO
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with archive.open("rb") as file:
        while chunk := file.read(8 * 2**20):
            digest.update(chunk)
    memo[key] = digest.hexdigest()
    root.mkdir(parents=True, exist_ok=True)
    _write_atomically(memo_path, json.dumps(memo, indent=1))
    return memo[key]


def extracted(archive: Path, root: Path | None = None) -> Path:
    """The folder holding the archive's contents, extracted on first use."""
    root = root or cache_root()
    folder = root / checksum(archive, root)
    if (folder / MODEL_VERSION).is_dir():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=root))
    try:
        extract_archive(archive, staging)
        try:
            staging.rename(folder)
        except OSError:  # another process got there first
            if not (folder / MODEL_VERSION).is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def has_arrays(folder: Path) -> bool:
    return (folder / ARRAYS / "done").exists()


def save_arrays(folder: Path, variables: dict[str, np.ndarray]) -> None:
    """Writes the SavedModel's variables (by name) as ``.npy`` files in the package folder.

    The graph's CSR index arrays are stored with one integer type, so that scipy uses them
    memory-mapped instead of converting (and copying) them.
    """
    variables = variables | {
        name: value.astype(np.int32)
        for name, value in variables.items()
        if name.endswith("graph_indptr") and value[-1] < 2**31
    }
    staging = Path(tempfile.mkdtemp(prefix=".arrays-", dir=folder))
    try:
        for name, value in variables.items():
            np.save(staging / f"{name}.npy", value)
        (staging / "done").touch()
        try:
            staging.rename(folder / ARRAYS)
        except OSError:
            if not has_arrays(folder):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_arrays(folder: Path) -> dict[str, np.ndarray]:
    """The saved variables, memory-mapped."""
    return {
        path.stem: np.load(path, mmap_mode="r") for path in sorted((folder / ARRAYS).glob("*.npy"))
    }


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def recommender(folder: Path, catalog: list[str] | None = None):
    """The package's recommender, rebuilt with the evaluation's code from its saved arrays.

    The arrays are the serving model's variables (``popularity``; ``graph_indptr``,
    ``graph_indices``, ``graph_values`` for the graph kinds; ``query_vectors``,
    ``item_vectors_t``, ``has_vector`` for word2vec; each kind's ``from_arrays`` reads its
    own), so the ranking is the one the parity check compared with the SavedModel's.
    """
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    arrays = load_arrays(folder)
    if catalog is None:
        catalog = (folder / "catalog.txt").read_text(encoding="utf-8").splitlines()
    track_ids = np.array(catalog, dtype=object)
    index = TrackIndex(track_ids, np.asarray(arrays["popularity"]).astype(np.int64))
    kind, name = metadata["kind"], metadata.get("candidate", metadata["kind"])
    if not rebuilds_from_arrays(metadata):
        raise ValueError(
            f"Recommender kind {kind!r} in {folder / 'metadata.json'} is not rebuilt from arrays"
        )
    return _kind(kind).rebuild(index, arrays, name, metadata.get("recommender"))


def rebuilds_from_arrays(metadata: dict) -> bool:
    """Whether a package with this ``metadata.json`` can answer from its cached arrays (else:
    the SavedModel; a blend packaged before its description was recorded, for one)."""
    found = _kind(metadata.get("kind", ""))
    return found is not None and found.rebuilds(metadata.get("recommender"))


def _kind(name: str):
    """The kind of that name, or None."""
    return registry().get(name)
