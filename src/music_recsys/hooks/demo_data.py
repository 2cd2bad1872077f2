"""``DemoDataHook`` makes ``kedro run`` work on a fresh clone: when the raw playlists dataset
points at the demo file, it (re)generates that file before the pipeline runs, if it is missing
or was made with other ``demo_data`` parameters. A run on a real file
(``--params raw_data_path=...``) never touches that file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

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
