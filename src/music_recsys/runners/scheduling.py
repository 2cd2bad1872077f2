"""``DaskRunner``'s scheduling: each node submitted to the cluster once its inputs' producers
are done, its driver-side hooks and MLflow datasets handled here. What runs where (workers touch
only persisted data and never MLflow; the driver schedules, calls the node hooks and handles
every kedro-mlflow dataset) is in the package's doc, :mod:`music_recsys.runners`.
"""

from __future__ import annotations

import inspect
import os
import shutil
import uuid
from collections import Counter
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
from kedro.io import AbstractDataset, MemoryDataset
from kedro.runner import AbstractRunner

from music_recsys import duckdb_sql, spark_sql
from music_recsys.project import project_root
from music_recsys.runners.cluster import (
    SCHEDULER_ENV,
    NodeOutcome,
    dask_client,
    run_node_on_worker,
)
from music_recsys.runners.kedro_private import collect_inputs_from_hook, suggest_resume_scenario
from music_recsys.runners.persistence import (
    SCRATCH_FOLDER,
    ScratchDataset,
    in_memory,
    is_mlflow_dataset,
    is_parameter,
    release,
    worker_datasets,
)

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager


class _DriverHooks:
    """The node and dataset hooks, less the plugins that take worker-measured records."""

    def __init__(self, hook_manager: PluginManager) -> None:
        plugins = getattr(hook_manager, "get_plugins", set)() or ()
        self.recorders = [p for p in plugins if callable(getattr(p, "record_worker_node", None))]
        self._manager = hook_manager
        self._callers: dict[str, Any] = {}

    @property
    def hook(self) -> _DriverHooks:
        """The hook callers, as ``PluginManager.hook`` offers them (for Kedro's ``Task``)."""
        return self

    def __getattr__(self, name: str) -> Any:
        if name not in self._callers:
            self._callers[name] = (
                self._manager.subset_hook_caller(name, remove_plugins=self.recorders)
                if self.recorders
                else getattr(self._manager.hook, name)
            )
        return self._callers[name]


class DaskRunner(AbstractRunner):
    """Runs a pipeline's nodes as tasks on a Dask ``distributed`` cluster.

    The cluster is the scheduler at ``address``, else at ``$DASK_SCHEDULER_ADDRESS``, else a
    ``distributed.LocalCluster`` of ``n_workers`` processes started for the run and closed after
    it. Workers of an existing cluster must see the project's files at the same paths (a shared
    file system), start in the project root, and have the project installed.

    Example::

        kedro run --runner music_recsys.runners.DaskRunner
        kedro run --runner music_recsys.runners.DaskRunner --runner-params n_workers=4
        DASK_SCHEDULER_ADDRESS=tcp://scheduler:8786 kedro run --runner music_recsys.runners.DaskRunner
    """

    def __init__(
        self,
        address: str | None = None,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        scratch_dir: str | None = None,
        is_async: bool = False,
    ) -> None:
        """Instantiates the runner.

        Args:
            address: The scheduler's address; default ``$DASK_SCHEDULER_ADDRESS``, and a local
                cluster when neither is set.
            n_workers: Worker processes of the local cluster.
            threads_per_worker: Threads per worker of the local cluster (nodes running at once
                in one process; keep 1 unless the nodes release the GIL and share well).
            scratch_dir: Where in-memory datasets are persisted for the run; default
                ``data/.dask_scratch`` in the project.
            is_async: Accepted for the ``kedro run`` command line; workers load and save in
                turn.
        """
        super().__init__(is_async=is_async)
        self._address = address or os.environ.get(SCHEDULER_ENV) or None
        self._n_workers = int(n_workers)
        self._threads_per_worker = int(threads_per_worker)
        self._scratch_dir = scratch_dir

    def _get_executor(self, max_workers: int) -> None:
        return None  # the Dask client is the executor

    def _validate_nodes(self, nodes: Any) -> None:
        generators = sorted(n.name for n in nodes if inspect.isgeneratorfunction(n.func))
        if generators:
            raise ValueError(f"DaskRunner does not run generator nodes: {generators}")
        unpicklable = []
        for node in nodes:
            try:
                cloudpickle.dumps(node)
            except Exception:  # noqa: BLE001 (any failure to serialise)
                unpicklable.append(node.name)
        if unpicklable:
            raise ValueError(f"These nodes cannot be sent to Dask workers: {sorted(unpicklable)}")

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        """Runs the nodes on the cluster, each once its inputs' producers are done.

        Raises:
            Exception: The first node error, with a note naming the node and its worker.
        """
        self._validate_nodes(pipeline.nodes)
        if spark_sql.has_session():
            raise ValueError(
                "The Dask runner cannot run with a SparkSession (--env spark): Spark tables "
                "belong to the driver's session and cannot be sent to Dask workers. Use the "
                "default runner there (Spark spreads the work itself), or run without --env spark."
            )
        scratch_root = Path(self._scratch_dir or project_root() / SCRATCH_FOLDER)
        scratch = scratch_root.resolve() / (run_id or uuid.uuid4().hex).replace(":", "-")
        datasets, stand_ins = worker_datasets(pipeline, catalog, scratch)
        try:
            with dask_client(
                self._address, self._n_workers, self._threads_per_worker, self._logger
            ) as client:
                self._schedule(pipeline, catalog, hook_manager, run_id, client, datasets, stand_ins)
            for name in stand_ins.keys() & pipeline.outputs():
                catalog.save(name, in_memory(stand_ins[name].load()))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if scratch_root.is_dir() and not any(scratch_root.iterdir()):
                scratch_root.rmdir()

    def _schedule(  # noqa: PLR0913
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager,
        run_id: str | None,
        client: Any,
        datasets: dict[str, AbstractDataset],
        stand_ins: dict[str, ScratchDataset],
    ) -> None:
        from distributed import wait  # noqa: PLC0415 (an optional dependency)

        hooks = _DriverHooks(hook_manager)
        settings = duckdb_sql.settings()
        nodes = pipeline.nodes
        dependencies = pipeline.node_dependencies
        load_counts = Counter(chain.from_iterable(n.inputs for n in nodes))
        todo, done = set(nodes), set()
        running: dict[Any, tuple[Node, dict[str, Any]]] = {}
        while todo or running:
            for node in sorted(n for n in todo if dependencies[n] <= done):
                todo.discard(node)
                driver_inputs = self._load_in_driver(node, catalog, datasets, hooks)
                given = dict(driver_inputs)
                # Kedro's own collection of before_node_run's overrides (it checks their type).
                given.update(collect_inputs_from_hook(node, catalog, driver_inputs, hooks, run_id))
                on_worker = {
                    name: datasets[name]
                    for name in chain(node.inputs, node.outputs)
                    if name in datasets
                    and name not in given
                    and not is_mlflow_dataset(datasets[name])
                }
                future = client.submit(
                    run_node_on_worker,
                    node,
                    on_worker,
                    given,
                    settings,
                    key=_task_key(node),
                    pure=False,
                )
                running[future] = (node, driver_inputs)
            if not running:
                raise RuntimeError(
                    f"Unable to schedule these nodes: {sorted(n.name for n in todo)}"
                )
            finished, _ = wait(list(running), return_when="FIRST_COMPLETED")
            for future in finished:
                node, driver_inputs = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:
                    self._fail(node, error, catalog, driver_inputs, hooks, run_id)
                    for other in running:
                        other.cancel()
                    suggest_resume_scenario(self, pipeline, done, catalog)
                    raise
                self._finish(node, outcome, catalog, driver_inputs, hooks, run_id)
                done.add(node)
                self._logger.info("Completed node: %s", node.name)
                self._logger.info("Completed %d out of %d tasks", len(done), len(nodes))
                release(node, pipeline, load_counts, stand_ins)

    @staticmethod
    def _load_in_driver(
        node: Node, catalog: CatalogProtocol, datasets: dict[str, AbstractDataset], hooks: Any
    ) -> dict[str, Any]:
        """The node's parameters, kedro-mlflow and in-memory inputs, loaded here (the
        in-memory datasets left are inputs of the pipeline, given with data in the catalog)."""
        inputs = {}
        for name in node.inputs:
            dataset = datasets.get(name)
            if (
                is_parameter(name)
                or is_mlflow_dataset(dataset)
                or isinstance(dataset, MemoryDataset)
            ):
                hooks.before_dataset_loaded(dataset_name=name, node=node)
                inputs[name] = catalog.load(name)
                hooks.after_dataset_loaded(dataset_name=name, data=inputs[name], node=node)
        return inputs

    def _finish(  # noqa: PLR0913
        self,
        node: Node,
        outcome: NodeOutcome,
        catalog: CatalogProtocol,
        inputs: dict[str, Any],
        hooks: Any,
        run_id: str | None,
    ) -> None:
        """The driver's share of a finished node: its hooks, its MLflow outputs, its record."""
        record = outcome.record
        self._logger.info(
            "Node %s took %.1f s on %s (peak RSS %s)",
            node.name,
            record["seconds"],
            record.get("worker") or "a worker",
            "n/a" if record["peak_rss_gb"] is None else f"{record['peak_rss_gb']:.2f} GB",
        )
        for recorder in hooks.recorders:
            recorder.record_worker_node(dict(record))
        hooks.after_node_run(
            node=node,
            catalog=catalog,
            inputs=inputs,
            outputs=outcome.outputs,
            is_async=False,
            run_id=run_id,
        )
        for name, data in outcome.outputs.items():
            hooks.before_dataset_saved(dataset_name=name, data=data, node=node)
            catalog.save(name, data)
            hooks.after_dataset_saved(dataset_name=name, data=data, node=node)
        for name in node.confirms:
            catalog.confirm(name)

    def _fail(  # noqa: PLR0913
        self,
        node: Node,
        error: Exception,
        catalog: CatalogProtocol,
        inputs: dict[str, Any],
        hooks: Any,
        run_id: str | None,
    ) -> None:
        self._logger.error("Node '%s' failed on a Dask worker: %r", node.name, error)
        hooks.on_node_error(
            error=error, node=node, catalog=catalog, inputs=inputs, is_async=False, run_id=run_id
        )


def _task_key(node: Node) -> str:
    return f"{node.name}-{uuid.uuid4().hex[:8]}"
