"""A read-only view of a pickled dataset that loads nothing until asked: ``<name>@loader``.

A node that needs one of many large models (the test evaluation needs the selected candidate
and the baselines; the latent-space map needs one word2vec model) takes every candidate's
``@loader`` twin and calls only the ones it uses. It is Kedro's transcoding: ``x@model`` and
``x@loader`` are one dataset in the pipeline's graph (and one box in kedro-viz), written once
as ``x@model`` and read either way — the same idea as a lazily loaded ``PartitionedDataset``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from kedro.io import DatasetError

from .file import FileDataset


class Loader:
    """Calling it loads the pickle (each call loads it again; keep the result)."""

    def __init__(self, filepath: str) -> None:
        self.filepath = filepath

    def __call__(self) -> Any:
        if not Path(self.filepath).is_file():
            raise FileNotFoundError(
                f"No model at '{self.filepath}': run the node that fits it first."
            )
        with Path(self.filepath).open("rb") as file:
            return pickle.load(file)  # noqa: S301 - the project's own models

    def __repr__(self) -> str:
        return f"Loader({self.filepath!r})"


class PickleLoaderDataset(FileDataset[None, Loader]):
    """Loads a :class:`Loader` for a pickle file written by another dataset (its twin)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(filepath, metadata)

    def load(self) -> Loader:
        """The loader; a missing file is an error when it is called (a node may take loaders
        of models it does not use)."""
        return Loader(self.filepath)

    def save(self, data: None) -> None:
        raise DatasetError(
            f"'{self._filepath}' is read-only through @loader: it is written by its @model twin."
        )
