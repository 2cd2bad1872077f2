"""What the run tells: ``TypedParamsTrackingHook`` lets kedro-mlflow log typed parameter groups
key by key; ``ProtocolTagHook`` tags the MLflow run with the evaluation protocol that produced
its figures; ``RunSummaryHook`` ends a run by saying where its report, figures and model package
are."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from pydantic import BaseModel

logger = logging.getLogger(__name__)


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


class ProtocolTagHook:
    """Tags the MLflow run with the protocol its figures come from (``evaluation.protocol``,
    ``evaluation.query``: what each query holds), once the pipeline has chosen it."""

    @hook_impl
    def after_node_run(self, outputs: dict[str, Any]) -> None:
        protocol = outputs.get("evaluation_protocol")
        if isinstance(protocol, dict) and mlflow.active_run() is not None:
            mlflow.set_tags(
                {
                    "evaluation.protocol": protocol.get("protocol", ""),
                    "evaluation.query": protocol.get("query", ""),
                }
            )


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
