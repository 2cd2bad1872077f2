"""The Dask cluster: the client of a running scheduler or of a local cluster for the run, and
what a worker does with a node — load its inputs, run it, save its outputs, measure it."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from music_recsys import duckdb_sql, resources

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kedro.io import AbstractDataset
    from kedro.pipeline.node import Node

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@contextlib.contextmanager
def dask_client(
    address: str | None, n_workers: int, threads_per_worker: int, logger: logging.Logger
) -> Iterator[Any]:
    """A client of the scheduler at ``address``, or of a local cluster of ``n_workers``
    processes started for the run and closed after it (its scheduler's and nannies' chatter
    silenced below warnings meanwhile)."""
    from distributed import Client, LocalCluster  # noqa: PLC0415 (an optional dependency)

    if address:
        logger.info("Connecting to the Dask scheduler at %s", address)
        with Client(address) as client:
            yield client
        return
    chatter = logging.getLogger("distributed")
    level = chatter.level
    chatter.setLevel(max(level, logging.WARNING))
    try:
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            logger.info(
                "Started a local Dask cluster: %d workers x %d thread(s)",
                n_workers,
                threads_per_worker,
            )
            yield client
    finally:
        chatter.setLevel(level)


@dataclass
class NodeOutcome:
    """What a worker sends back: the outputs the driver saves, and what the node cost."""

    outputs: dict[str, Any]
    record: dict[str, Any] = field(default_factory=dict)


def run_node_on_worker(
    node: Node,
    datasets: dict[str, AbstractDataset],
    given: dict[str, Any],
    duckdb_settings: dict[str, Any],
) -> NodeOutcome:
    """The task a worker runs: one node, its inputs loaded and its outputs saved here.

    Args:
        node: The node.
        datasets: The datasets of the inputs this worker loads and of the outputs it saves.
        given: Inputs the driver loaded (parameters, kedro-mlflow datasets, hook overrides).
        duckdb_settings: The driver's DuckDB settings, applied to this worker's connection
            (with a ``temp_directory`` of its own: DuckDB may delete its temporary files when
            a connection closes, and workers must not delete each other's).

    Returns:
        The outputs that have no dataset here (the driver saves them), and the node's wall
        time, running time and peak resident memory in this worker.
    """
    try:
        duckdb_sql.configure(worker_duckdb_settings(duckdb_settings))
        resources.reset_peak_rss()
        started = time.perf_counter()
        inputs = {name: datasets[name].load() for name in node.inputs if name not in given}
        run_started = time.perf_counter()
        outputs = node.run({**inputs, **given})
        run_seconds = time.perf_counter() - run_started
        returned = {}
        for name, data in outputs.items():
            if name in datasets:
                datasets[name].save(data)
            else:
                returned[name] = data
    except Exception as error:
        error.add_note(f"Raised by node '{node.name}' on Dask worker {worker_address()}")
        raise
    record = {
        "node": node.name,
        "seconds": time.perf_counter() - started,
        "run_seconds": run_seconds,
        "peak_rss_gb": resources.gigabytes(resources.peak_rss_bytes()),
        "rss_after_gb": resources.gigabytes(resources.rss_bytes()),
        "worker": worker_address(),
    }
    return NodeOutcome(outputs=returned, record=record)


def worker_duckdb_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The driver's DuckDB settings for this worker process: the same, but spilling to a
    folder of its own under ``temp_directory``."""
    if not settings.get("temp_directory"):
        return dict(settings)
    return {
        **settings,
        "temp_directory": str(Path(settings["temp_directory"]) / f"worker-{os.getpid()}"),
    }


def worker_address() -> str | None:
    from distributed import get_worker  # noqa: PLC0415 (imported on the worker)

    try:
        return get_worker().address
    except ValueError:  # not on a worker (called directly)
        return None
