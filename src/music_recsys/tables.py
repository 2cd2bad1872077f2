"""SQL over tables, on whichever engine holds them: DuckDB (the default) or Spark.

A node written with :func:`sql` and :func:`to_pandas` runs unchanged on DuckDB relations
(``kedro run``) and on Spark DataFrames (``kedro run --env spark``): the query is written once,
in DuckDB's dialect, and :mod:`music_recsys.spark_sql` translates it for Spark. A query may only
use what both engines do the same way; the engine-comparison tests run every one on both.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from music_recsys import duckdb_sql, spark_sql

Table = Any  # duckdb.DuckDBPyRelation | pyspark.sql.DataFrame


def on_spark(*tables: Any) -> bool:
    """Whether any of ``tables`` is a Spark DataFrame."""
    return any(spark_sql.is_spark_frame(table) for table in tables)


def sql(query: str, **inputs: Any) -> Table:
    """A lazy table for ``query`` (DuckDB SQL), in which ``{name}`` stands for input ``name``.

    On Spark when any input is a Spark DataFrame, else on DuckDB. Pandas frames and Arrow
    tables are accepted as inputs on both. A single DuckDB relation is queried on the
    connection it lives on (the raw file's lines have a connection of their own).
    """
    if on_spark(*inputs.values()):
        return spark_sql.sql(query, **inputs)
    if len(inputs) == 1:
        ((key, data),) = inputs.items()
        if isinstance(data, duckdb.DuckDBPyRelation):
            return duckdb_sql.sql_on(data, query.replace("{" + key + "}", "{input}"))
    return duckdb_sql.sql(query, **inputs)


def to_pandas(table: Table) -> pd.DataFrame:
    """The rows of ``table`` as a pandas frame (through Arrow on both engines)."""
    if isinstance(table, pd.DataFrame):
        return table
    if spark_sql.is_spark_frame(table):
        return table.toPandas()
    return duckdb_sql.to_pandas(duckdb_sql.relation(table))


def first_row(table: Table) -> tuple:
    """The first row of ``table`` as a tuple (for queries that return one row of counts)."""
    if spark_sql.is_spark_frame(table):
        row = table.first()
        return tuple(row) if row is not None else ()
    rows = duckdb_sql.relation(table).limit(1).fetchall()
    return tuple(rows[0]) if rows else ()


def materialize(table: Table) -> Any:
    """``table`` computed once, for a small result that several queries read: a pandas frame
    on DuckDB, a cached DataFrame on Spark (which stays on the cluster)."""
    if spark_sql.is_spark_frame(table):
        return table.cache()
    return to_pandas(table)


def seeded_order(seed: int, *values: str) -> str:
    """A sort key that puts rows in a seeded pseudo-random order: the ``md5`` of the seed and
    the values (hex text, compared byte by byte), identical on DuckDB and Spark."""
    return f"md5(concat_ws(chr(31), '{int(seed)}', {', '.join(values)}))"
