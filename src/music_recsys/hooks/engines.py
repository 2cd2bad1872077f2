"""The engines' sessions: ``DuckDBHook`` applies ``conf/<env>/duckdb.yml`` to the shared DuckDB
connection; ``SparkHook`` starts the SparkSession of ``conf/<env>/spark.yml`` (``--env spark``)
before any node runs, or stops the run with what to install when Spark cannot start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from music_recsys import duckdb_sql, spark_sql

logger = logging.getLogger(__name__)


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
        local_dir = settings.get("spark.local.dir")
        if local_dir and not Path(local_dir).is_absolute():
            settings["spark.local.dir"] = str(Path(context.project_path) / local_dir)
        spark_sql.start(settings, app_name=Path(context.project_path).name)
