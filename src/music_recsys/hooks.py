"""Project hooks.

``RunSummaryHook`` ends a run by saying where its report, figures and model package are.

``DuckDBHook`` applies ``conf/<env>/duckdb.yml`` to the shared DuckDB connection.

``TypedParamsTrackingHook`` lets kedro-mlflow log typed parameter groups key by key.

``DemoDataHook`` makes ``kedro run`` work on a fresh clone: when the raw playlists dataset points
at the demo file, it (re)generates that file before the pipeline runs, if it is missing or was
made with other ``demo_data`` parameters. A run on a real file (``--params raw_data_path=...``)
never touches that file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from pydantic import BaseModel

from music_recsys import duckdb_sql
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
