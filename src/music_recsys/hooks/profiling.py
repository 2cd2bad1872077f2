"""``NodeProfileHook`` measures each node's wall time and peak memory, logs them and records the
run's profile in MLflow (``run_profile.json``)."""

from __future__ import annotations

import logging
import time
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from music_recsys import resources

logger = logging.getLogger(__name__)


class NodeProfileHook:
    """Each node's cost: wall time (loading its inputs, running, saving its outputs) and peak RSS.

    With the sequential runner a node's work lies between the first load of its inputs and the
    first load of the next node's, so that is what is timed; the high-water mark of resident
    memory is reset at each node's start, so its peak is its own. Every node gets a log line;
    the run ends with the costliest nodes in the log, and the whole profile as the MLflow
    artifact ``run_profile.json`` with ``run_profile.seconds`` and ``run_profile.peak_rss_gb``.
    With :class:`music_recsys.runners.DaskRunner` each worker measures its nodes, and the runner
    hands the figures to :meth:`record_worker_node`.
    """

    def __init__(self) -> None:
        self._nodes: list[dict] = []
        self._current: dict | None = None
        self._started = time.perf_counter()
        self._start_peak: int | None = None

    @hook_impl
    def before_pipeline_run(self) -> None:
        self._nodes, self._current = [], None
        self._started = time.perf_counter()
        self._start_peak = resources.peak_rss_bytes()  # imports and start-up, before any node

    def _begin(self, node: Any) -> None:
        if self._current is not None and self._current["node"] == node.name:
            return
        self._finish()
        resources.reset_peak_rss()
        self._current = {"node": node.name, "started": time.perf_counter()}

    def _finish(self) -> None:
        if self._current is None:
            return
        record, self._current = self._current, None
        record["seconds"] = time.perf_counter() - record.pop("started")
        record["peak_rss_gb"] = resources.gigabytes(resources.peak_rss_bytes())
        record["rss_after_gb"] = resources.gigabytes(resources.rss_bytes())
        self._nodes.append(record)
        logger.info(
            "Node %s took %.1f s (peak RSS %s)",
            record["node"],
            record["seconds"],
            "n/a" if record["peak_rss_gb"] is None else f"{record['peak_rss_gb']:.2f} GB",
        )

    @hook_impl
    def before_dataset_loaded(self, node: Any) -> None:
        self._begin(node)

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._begin(node)
        self._current["run_started"] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if self._current is not None and "run_started" in self._current:
            self._current["run_seconds"] = time.perf_counter() - self._current.pop("run_started")

    def record_worker_node(self, record: dict) -> None:
        """A node measured in another process (:class:`music_recsys.runners.DaskRunner`'s
        workers): its ``seconds``, ``run_seconds``, ``peak_rss_gb`` and ``rss_after_gb`` as that
        process saw them. The Dask runner calls this instead of the node and dataset hooks,
        which in its driver would time the queue, not the node."""
        self._nodes.append(dict(record))

    def profile(self) -> dict:
        """The run so far: total seconds, peak RSS over all nodes, and every node's figures."""
        self._finish()
        peaks = [n["peak_rss_gb"] for n in self._nodes if n["peak_rss_gb"] is not None]
        start = resources.gigabytes(self._start_peak)
        return {
            "seconds": time.perf_counter() - self._started,
            "peak_rss_gb": max(peaks + ([start] if start is not None else []), default=None),
            "start_up_peak_rss_gb": start,
            "children_peak_rss_gb": resources.gigabytes(resources.children_peak_rss_bytes()),
            "nodes": list(self._nodes),
        }

    def _report(self) -> None:
        profile = self.profile()
        costliest = sorted(profile["nodes"], key=lambda n: -n["seconds"])[:5]
        logger.info(
            "Run profile: %.0f s, peak RSS %s; costliest nodes: %s",
            profile["seconds"],
            "n/a" if profile["peak_rss_gb"] is None else f"{profile['peak_rss_gb']:.2f} GB",
            ", ".join(f"{n['node']} {n['seconds']:.0f} s" for n in costliest),
        )
        if mlflow.active_run() is not None:
            mlflow.log_dict(profile, "run_profile.json")
            mlflow.log_metric("run_profile.seconds", profile["seconds"])
            if profile["peak_rss_gb"] is not None:
                mlflow.log_metric("run_profile.peak_rss_gb", profile["peak_rss_gb"])

    # tryfirst: before kedro-mlflow's own hooks close the MLflow run.
    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        self._report()

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self) -> None:
        self._report()
