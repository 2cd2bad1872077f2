"""What crosses processes: every dataset a node's worker loads or saves is persisted.

``MemoryDataset``\\s (outputs with no catalog entry, and in-memory catalog entries such as
``parsed_lines``) are replaced for the run by :class:`ScratchDataset` files under
``data/.dask_scratch/<run id>/``, deleted as soon as no node needs them and at the end of the
run. kedro-mlflow's datasets stay with the driver (kedro-mlflow is not safe from parallel
workers: kedro-mlflow issues #624, #646, #689).
"""

from __future__ import annotations

import pickle
from collections import Counter
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
import duckdb
from kedro.io import AbstractDataset, MemoryDataset

from music_recsys import duckdb_sql
from music_recsys.datasets import DuckDBParquetDataset

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

SCRATCH_FOLDER = "data/.dask_scratch"


class ScratchDataset(AbstractDataset[Any, Any]):
    """A run-scoped file standing in for a ``MemoryDataset`` whose data crosses processes.

    A DuckDB relation is written as Parquet and loaded back as a lazy relation
    (:class:`~music_recsys.datasets.DuckDBParquetDataset`); anything else is pickled with
    cloudpickle, so pandas frames, Arrow tables and Python objects come back as they were.
    ``release()`` deletes the file.
    """

    def __init__(self, path: str | Path) -> None:
        """Args: path: the file's path without its suffix (``.parquet`` or ``.pkl`` is added)."""
        self._path = Path(path)

    @property
    def _parquet(self) -> Path:
        return self._path.with_suffix(".parquet")

    @property
    def _pickle(self) -> Path:
        return self._path.with_suffix(".pkl")

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def _exists(self) -> bool:
        return self._parquet.is_file() or self._pickle.is_file()

    def save(self, data: Any) -> None:
        self._release()
        if isinstance(data, duckdb.DuckDBPyRelation):
            DuckDBParquetDataset(str(self._parquet)).save(data)
        else:
            self._pickle.parent.mkdir(parents=True, exist_ok=True)
            with self._pickle.open("wb") as file:
                cloudpickle.dump(data, file, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self) -> Any:
        if self._parquet.is_file():
            return DuckDBParquetDataset(str(self._parquet)).load()
        with self._pickle.open("rb") as file:
            return pickle.load(file)  # noqa: S301 (written by this run)

    def _release(self) -> None:
        self._parquet.unlink(missing_ok=True)
        self._pickle.unlink(missing_ok=True)


def is_mlflow_dataset(dataset: Any) -> bool:
    """Whether kedro-mlflow owns the dataset: it is loaded and saved in the driver only."""
    return type(dataset).__module__.startswith("kedro_mlflow.")


def is_parameter(name: str) -> bool:
    return name.startswith("params:") or name == "parameters"


def worker_datasets(
    pipeline: Pipeline, catalog: CatalogProtocol, scratch: Path
) -> tuple[dict[str, AbstractDataset], dict[str, ScratchDataset]]:
    """Every dataset of the pipeline as the workers use it, and the scratch stand-ins.

    Raises:
        ValueError: Naming the datasets that cannot be sent to a worker.
    """
    datasets: dict[str, AbstractDataset] = {}
    stand_ins: dict[str, ScratchDataset] = {}
    for name in sorted(pipeline.datasets()):
        if is_parameter(name):
            continue
        dataset = catalog.get(name, fallback_to_runtime_pattern=True)
        if isinstance(dataset, MemoryDataset) and name not in pipeline.inputs():
            stand_ins[name] = dataset = ScratchDataset(scratch / name.replace("/", "_"))
        datasets[name] = dataset
    unpicklable = []
    for name, dataset in datasets.items():
        if not is_mlflow_dataset(dataset):
            try:
                cloudpickle.dumps(dataset)
            except Exception:  # noqa: BLE001 (any failure to serialise)
                unpicklable.append(name)
    if unpicklable:
        raise ValueError(f"These datasets cannot be sent to Dask workers: {unpicklable}")
    return datasets, stand_ins


def release(
    node: Node, pipeline: Pipeline, load_counts: Counter, stand_ins: dict[str, ScratchDataset]
) -> None:
    """Deletes the scratch files no node needs any more (pipeline outputs stay)."""
    for name in node.inputs:
        load_counts[name] -= 1
    for name in chain(node.inputs, node.outputs):
        if name in stand_ins and load_counts[name] < 1 and name not in pipeline.outputs():
            stand_ins[name].release()


def in_memory(data: Any) -> Any:
    """``data`` kept valid once its scratch file is deleted (a relation is read into Arrow)."""
    if isinstance(data, duckdb.DuckDBPyRelation):
        return duckdb_sql.connection().from_arrow(data.to_arrow_table())
    return data
