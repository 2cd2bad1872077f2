"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that `kedro run` leaves out unless named with --pipelines.
NOT_IN_DEFAULT = ("deployment", "batch")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects; ``__default__`` is every
        pipeline except those in ``NOT_IN_DEFAULT``.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipeline for name, pipeline in pipelines.items() if name not in NOT_IN_DEFAULT),
        start=Pipeline([]),
    )
    return pipelines
