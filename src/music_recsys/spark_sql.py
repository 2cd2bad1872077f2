"""The project's SparkSession and SQL written for DuckDB, run on Spark.

The pipelines' queries are written once, in DuckDB's dialect (``music_recsys.tables.sql``
runs them). When their inputs are Spark DataFrames, this module translates each query to Spark
SQL with `sqlglot <https://sqlglot.com>`_ (unsupported constructs raise instead of being
approximated) and runs it on the session that :class:`music_recsys.hooks.SparkHook` creates
from ``conf/<env>/spark.yml``. The tests run every query on both engines and compare the rows.

pyspark and sqlglot come with the ``scale`` extra (``pip install -e '.[scale]'``); nothing here
is imported by the default, DuckDB-only run.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_session: Any = None
_view_numbers = itertools.count()
_MIN_JAVA = 17
_CONNECT_TIMEOUT_S = 5.0


class SparkSetupError(click.ClickException):
    """Spark cannot start here: what is missing and how to get it (shown without a traceback
    by ``kedro run``)."""


def is_spark_frame(data: Any) -> bool:
    """Whether ``data`` is a Spark DataFrame (classic or Spark Connect), without importing
    pyspark when it is not installed."""
    return type(data).__module__.startswith("pyspark.")


def check_installed() -> None:
    """Raises :class:`SparkSetupError` unless pyspark and sqlglot can be imported."""
    missing = []
    for module in ("pyspark", "sqlglot"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SparkSetupError(
            f"The spark environment needs {' and '.join(missing)}, from the project's 'scale' "
            "extra: run `make scale` (or `pip install -e '.[scale]'`), then run again. "
            "Without --env spark the pipelines run on DuckDB and need neither."
        )


def _java_major(java: str) -> int | None:
    try:
        shown = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_java() -> str:
    """The Java that Spark will use (``$JAVA_HOME/bin/java``, else ``java`` on the PATH).

    Raises:
        SparkSetupError: If there is none, or it is older than Java 17 (Spark 4's minimum).
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    where = f"JAVA_HOME={home}" if home else "the PATH"
    if not java or not Path(java).is_file():
        raise SparkSetupError(
            f"Spark needs Java {_MIN_JAVA} or newer and found no java in {where}. Install a JDK "
            "(e.g. Debian's openjdk-17-jdk-headless) and set JAVA_HOME to it, e.g. "
            "export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64"
        )
    major = _java_major(java)
    if major is None or major < _MIN_JAVA:
        raise SparkSetupError(
            f"Spark needs Java {_MIN_JAVA} or newer; {java} (from {where}) is "
            f"{'Java ' + str(major) if major else 'not a Java that runs'}. Set JAVA_HOME to a "
            f"JDK {_MIN_JAVA}+."
        )
    return java


def check_reachable(url: str) -> None:
    """Fails within seconds, naming ``url``, when a ``spark://`` master or an ``sc://`` Spark
    Connect server does not accept connections (Spark itself would retry for minutes)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("spark", "sc"):
        return
    default_port = 7077 if parsed.scheme == "spark" else 15002
    for host_port in parsed.netloc.split(","):
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
        try:
            with socket.create_connection(
                (host, int(port or default_port)), timeout=_CONNECT_TIMEOUT_S
            ):
                return
        except (OSError, ValueError) as error:
            reason = error
    raise SparkSetupError(
        f"Cannot reach the Spark {'master' if parsed.scheme == 'spark' else 'Connect server'} "
        f"{url} ({reason}). Start it, or set spark.master / remote in conf/<env>/spark.yml "
        "(local[2] runs Spark inside this process)."
    )


def start(settings: dict[str, Any], app_name: str) -> Any:
    """Creates (or reuses) the SparkSession described by ``settings`` (``conf/<env>/spark.yml``).

    ``remote`` (a Spark Connect URL, ``sc://host:port``) or ``spark.master`` chooses where
    Spark runs; every other key is a Spark configuration option.
    """
    global _session  # noqa: PLW0603
    check_installed()
    settings = {key: value for key, value in settings.items() if value is not None}
    remote = settings.pop("remote", None) or os.environ.get("SPARK_REMOTE")
    check_reachable(remote or str(settings.get("spark.master", "")))
    if not str(remote or "").startswith("sc://"):  # a JVM here: local mode or a local server
        check_java()
    from pyspark.sql import SparkSession  # noqa: PLC0415

    # pyspark 4.3 warns on every pandas conversion that pandas 3 is "not yet fully supported";
    # the engine tests compare its results with DuckDB's row for row.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    if not remote and str(settings.get("spark.master", "local")).startswith("local"):
        # Python workers started here run this interpreter (its packages: pandas, the project)
        # unless spark.pyspark.python or PYSPARK_PYTHON names another.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(remote) if remote else builder
    for key, value in settings.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
    with _lock:
        started = time.perf_counter()
        _session = builder.getOrCreate()
        if not remote:  # a Spark Connect session has no SparkContext
            _session.sparkContext.setLogLevel("WARN")
    logger.info(
        "Spark %s session on %s started in %.1f s",
        _session.version,
        remote or settings.get("spark.master", "the default master"),
        time.perf_counter() - started,
    )
    return _session


def has_session() -> bool:
    """Whether a SparkSession has been started in this process (never imports pyspark)."""
    return _session is not None


def session() -> Any:
    """The session :func:`start` created (the active one, if it was created elsewhere)."""
    if _session is not None:
        return _session
    from pyspark.sql import SparkSession  # noqa: PLC0415

    active = SparkSession.getActiveSession()
    if active is None:
        raise SparkSetupError(
            "No SparkSession: run with `--env spark` (conf/spark/spark.yml) or call "
            "music_recsys.spark_sql.start(...) first."
        )
    return active


@functools.lru_cache(maxsize=256)
def translate(query: str) -> str:
    """``query`` (DuckDB SQL) in Spark SQL; raises on anything sqlglot cannot translate."""
    import sqlglot  # noqa: PLC0415

    return sqlglot.transpile(
        query, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )[0]


def sql(query: str, **inputs: Any) -> Any:
    """Like :func:`music_recsys.duckdb_sql.sql`, on Spark: ``{name}`` stands for the input
    ``name`` (a Spark DataFrame, or a pandas frame / Arrow table that is made one)."""
    spark = session()
    names = {}
    for key, data in inputs.items():
        frame = data if is_spark_frame(data) else _to_spark(spark, data)
        name = f"{key}_{next(_view_numbers)}"
        frame.createOrReplaceTempView(name)
        names[key] = name
    return spark.sql(translate(query.format(**names)))


def _to_spark(spark: Any, data: Any) -> Any:
    import pyarrow as pa  # noqa: PLC0415

    if isinstance(data, pa.Table):
        data = data.to_pandas()
    return spark.createDataFrame(data)
