"""The base of the project's datasets over one path: what they share about ``filepath``."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from kedro.io import AbstractDataset

_DI = TypeVar("_DI")
_DO = TypeVar("_DO")


class FileDataset(AbstractDataset[_DI, _DO]):
    """A dataset whose data lies at one ``filepath`` (a file, or a folder of parts).

    It holds the catalog's ``filepath`` and ``metadata``, describes itself by its path plus
    whatever :meth:`_describe_extra` adds (its options), and exists when the file does. Every
    subclass defines its own ``__init__``, even one that only calls this one: Kedro records a
    dataset's arguments (``DataCatalog.to_config``) from the signature of its class's own
    ``__init__``, and an inherited one would be recorded as ``args`` and ``kwargs``.

    ``_filepath`` is a :class:`~pathlib.PurePosixPath`, as in kedro-datasets: kedro-mlflow's
    ``MlflowArtifactDataset`` logs the file of the dataset it wraps as ``_filepath.as_posix()``.
    :attr:`filepath` is the string that readers and messages take: the path, or a URL
    (``s3a://...``) exactly as given, which a path would collapse to ``s3a:/...``.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self._url = filepath if "://" in filepath else None
        self.metadata = metadata

    @property
    def filepath(self) -> str:
        """Where the data is: a local path, or a URL as given."""
        return self._url or str(self._filepath)

    @property
    def is_url(self) -> bool:
        """Whether ``filepath`` is a URL (read by the engine, never checked here)."""
        return self._url is not None

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self.filepath, **self._describe_extra()}

    def _describe_extra(self) -> dict[str, Any]:
        """What the description adds to the path: the dataset's options (none here)."""
        return {}

    def _exists(self) -> bool:
        return Path(self.filepath).is_file()
