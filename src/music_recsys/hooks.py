"""Project hooks.

``RunSummaryHook`` ends a run by saying where its report, figures and model package are.

``DuckDBHook`` applies ``conf/<env>/duckdb.yml`` to the shared DuckDB connection.

``SparkHook`` starts the SparkSession of ``conf/<env>/spark.yml`` (``--env spark``), before any
node runs, or stops the run with what to install when Spark cannot start.

``TypedParamsTrackingHook`` lets kedro-mlflow log typed parameter groups key by key.

``NodeProfileHook`` measures each node's wall time and peak memory, logs them and records the
run's profile in MLflow (``run_profile.json``).

``DemoDataHook`` makes ``kedro run`` work on a fresh clone: when the raw playlists dataset points
at the demo file, it (re)generates that file before the pipeline runs, if it is missing or was
made with other ``demo_data`` parameters. A run on a real file (``--params raw_data_path=...``)
never touches that file.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import mlflow
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from pydantic import BaseModel

from music_recsys import duckdb_sql, resources
from music_recsys.demo_data import DEMO_GENERATOR_VERSION, DemoDataParams, generate_demo_playlists

logger = logging.getLogger(__name__)

RAW_DATASET = "raw_playlists"


def is_demo_file(dataset: Any, params: DemoDataParams, project_path: Path) -> bool:
    """Whether the raw dataset reads the demo file (paths relative to the project)."""
    return (project_path / dataset.filepath).resolve() == (project_path / params.path).resolve()


def ensure_demo_data(dataset: Any, params: DemoDataParams, project_path: Path) -> bool:
    """Writes the demo file through ``dataset`` unless an up-to-date one exists.

    Args:
        dataset: The raw playlists dataset; nothing is done unless it reads ``params.path``.
        params: The demo data parameters.
        project_path: The project root, against which relative paths are resolved.

    Returns:
        Whether a file was generated.
    """
    if not is_demo_file(dataset, params, project_path):
        return False
    path = project_path / params.path
    fingerprint_path = path.with_suffix(".params.json")
    fingerprint = json.dumps(
        {"generator_version": DEMO_GENERATOR_VERSION, **params.model_dump()}, indent=2
    )
    if path.is_file() and fingerprint_path.is_file():
        if fingerprint_path.read_text(encoding="utf-8") == fingerprint:
            logger.info("Using the demo playlists in '%s'", params.path)
            return False
    logger.info(
        "Generating demo playlists (%d playlists, seed %d) in '%s'; pass "
        "--params raw_data_path=<file> to use a real file instead",
        params.n_playlists,
        params.seed,
        params.path,
    )
    fingerprint_path.unlink(missing_ok=True)
    table = generate_demo_playlists(params)
    dataset.save(table)
    fingerprint_path.write_text(fingerprint, encoding="utf-8")
    logger.info("Wrote %d demo rows to '%s'", len(table), params.path)
    return True


class DemoDataHook:
    """Generates the demo playlists file before a run that reads it, and records which file
    the run read in its MLflow run (``raw_data.path``, ``raw_data.is_demo``, and the demo
    parameters when it is the demo)."""

    # trylast: after kedro-mlflow has started the run, so that the parameters land in it.
    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if RAW_DATASET not in pipeline.inputs():
            return
        params = DemoDataParams.model_validate(catalog.load("params:demo_data"))
        dataset = catalog.get(RAW_DATASET)
        project_path = Path(run_params.get("project_path") or Path.cwd())
        ensure_demo_data(dataset, params, project_path)
        if mlflow.active_run() is not None:
            is_demo = is_demo_file(dataset, params, project_path)
            mlflow.log_params({"raw_data.path": dataset.filepath, "raw_data.is_demo": is_demo})
            if is_demo:
                mlflow.log_params(
                    {f"demo_data.{k}": v for k, v in params.model_dump().items() if k != "path"}
                )


class DuckDBHook:
    """Configures the shared DuckDB connection from ``conf/<env>/duckdb.yml``.

    Like the Spark session of Kedro's PySpark starter: one place for engine settings, applied
    when the context is created. A relative ``temp_directory`` is taken from the project root.
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        try:
            settings = dict(context.config_loader["duckdb"])
        except KeyError:
            settings = {}
        temp_directory = settings.get("temp_directory")
        if temp_directory and not Path(temp_directory).is_absolute():
            settings["temp_directory"] = str(Path(context.project_path) / temp_directory)
        duckdb_sql.configure(settings)


class SparkHook:
    """Starts the SparkSession that ``conf/<env>/spark.yml`` describes, when the environment has
    one (``kedro run --env spark``); environments without it never import pyspark.

    Kedro's PySpark starter pattern: the session is created once, when the context is, from
    configuration (``spark.master: local[2]``, a cluster's master URL, or ``remote:`` for a
    Spark Connect server). A missing pyspark or Java, or a master that does not answer, stops
    the run here, before any node runs, with what to do. A relative ``spark.local.dir`` is taken
    from the project root.
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        try:
            settings = dict(context.config_loader["spark"])
        except (KeyError, MissingConfigException):
            return
        if not settings:
            return
        from music_recsys import spark_sql  # noqa: PLC0415

        local_dir = settings.get("spark.local.dir")
        if local_dir and not Path(local_dir).is_absolute():
            settings["spark.local.dir"] = str(Path(context.project_path) / local_dir)
        spark_sql.start(settings, app_name=Path(context.project_path).name)


class TypedParamsTrackingHook:
    """Shows typed (Pydantic) parameter groups to the tracking hooks as plain dicts.

    Kedro validates ``params:`` groups against the nodes' Pydantic type hints and hands the
    nodes model objects. kedro-mlflow logs node parameters from the inputs that the
    ``before_node_run`` hooks see, and would log a model as one opaque string instead of one
    MLflow parameter per key. Kedro gives the hooks a shallow copy of the inputs, so this hook
    (called first) swaps models for dicts in that copy only: nodes still get the models.
    """

    @hook_impl(tryfirst=True)
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        for name, value in inputs.items():
            if name.startswith("params:") and isinstance(value, BaseModel):
                inputs[name] = value.model_dump(mode="json")


class RunSummaryHook:
    """Ends a run with where to look: the report, the figures, the results, the package."""

    WHAT = {
        "report": "report",
        "model_results": "results table",
        "row_accounting": "row accounting",
        "model_archive": "SageMaker package",
    }

    # tryfirst: before kedro-mlflow's own after_pipeline_run closes the MLflow run.
    @hook_impl(tryfirst=True)
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        outputs = pipeline.all_outputs()
        lines = []
        for name, label in self.WHAT.items():
            if name in outputs:
                lines.append(f"{label}: {getattr(catalog.get(name), '_filepath', name)}")
        figures = sorted(name for name in outputs if name.endswith("_plot"))
        if figures:
            folder = Path(
                str(getattr(catalog.get(figures[0]), "_filepath", "data/06_viz/x"))
            ).parent
            lines.append(f"figures: {folder}/ ({len(figures)} PNGs)")
        if mlflow.active_run() is not None:
            lines.append(
                f"MLflow run {mlflow.active_run().info.run_id}: browse with `kedro mlflow ui`"
            )
        if lines:
            logger.info("Run finished. Where to look:\n  %s", "\n  ".join(lines))


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
