"""Next tracks for every playlist in one run (``kedro run --pipelines batch``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
