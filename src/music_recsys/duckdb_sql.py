"""The process-wide DuckDB connection and a helper to run SQL over lazy relations.

The data_processing nodes pass DuckDB relations, not pandas frames: a relation is a lazy query,
so a 12.9 M-row file streams from CSV through SQL to Parquet without ever being held whole in
Python. For relations to be combined in one query they must share a connection; this module owns
it. Its settings (memory limit, threads, spill directory) come from ``conf/base/duckdb.yml``,
applied by :class:`music_recsys.hooks.DuckDBHook` when a Kedro context is created.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

_lock = threading.Lock()
_settings: dict[str, Any] = {}
_connection: duckdb.DuckDBPyConnection | None = None
_view_numbers = itertools.count()


def configure(settings: dict[str, Any]) -> None:
    """Sets the DuckDB settings (e.g. ``memory_limit``, ``threads``, ``temp_directory``).

    A connection opened with other settings is closed; the next :func:`connection` call opens
    a new one, so relations from the old connection must not be used afterwards.
    """
    global _connection, _settings  # noqa: PLW0603
    with _lock:
        settings = {key: value for key, value in settings.items() if value is not None}
        if settings == _settings and _connection is not None:
            return
        if _connection is not None:
            _connection.close()
            _connection = None
        _settings = settings


def settings() -> dict[str, Any]:
    """The configured DuckDB settings."""
    return dict(_settings)


def connection() -> duckdb.DuckDBPyConnection:
    """The shared in-memory DuckDB connection, opened on first use."""
    global _connection  # noqa: PLW0603
    with _lock:
        if _connection is None:
            _connection = duckdb.connect(config=_settings)
        return _connection


def relation(data: duckdb.DuckDBPyRelation | pd.DataFrame | pa.Table) -> duckdb.DuckDBPyRelation:
    """``data`` as a relation on the shared connection (frames and Arrow tables are wrapped)."""
    if isinstance(data, duckdb.DuckDBPyRelation):
        return data
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    return connection().from_arrow(data)


def sql(
    query: str, **inputs: duckdb.DuckDBPyRelation | pd.DataFrame | pa.Table
) -> duckdb.DuckDBPyRelation:
    """A lazy relation for ``query``, in which ``{name}`` stands for the input ``name``.

    Each input is exposed under a fresh view name, so relations returned earlier keep meaning
    what they meant when they were made. Braces that are not placeholders must be doubled.

    Example:
        ``sql("SELECT count(*) FROM {rows} WHERE n > 1", rows=some_relation)``
    """
    names = {}
    for key, data in inputs.items():
        name = f"{key}_{next(_view_numbers)}"
        relation(data).create_view(name, replace=True)
        names[key] = name
    return connection().sql(query.format(**names))


def sql_on(data: duckdb.DuckDBPyRelation, query: str) -> duckdb.DuckDBPyRelation:
    """Like :func:`sql` with one input, ``{input}``, but on the connection ``data`` lives on.

    For a relation over another connection's tables (the raw file's lines, which
    :class:`~music_recsys.datasets.PlaylistCsvDataset` keeps on a connection of its own).
    """
    name = f"input_{next(_view_numbers)}"
    return data.query(name, query.format(input=name))


def to_pandas(data: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """A relation's rows as a pandas frame, through Arrow (much faster than ``.df()``)."""
    return data.to_arrow_table().to_pandas()
