"""Atomic file writes for the project's datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` and renames it over ``path`` when the block ends.

    An interrupted or failed save leaves the previous file (or none) in place, never half of a
    new one that a later run would take for complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class AtomicSaveMixin:
    """Makes a kedro-datasets file dataset save atomically: into a temporary file beside the
    target, renamed over it once complete (local files, unversioned datasets)."""

    def save(self, data) -> None:
        final = self._filepath
        with atomic_write(Path(str(final))) as temporary:
            self._filepath = type(final)(str(temporary))
            try:
                super().save(data)
            finally:
                self._filepath = final
        self._invalidate_cache()
