"""The same data_processing on DuckDB and on Spark gives the same rows.

Every query of the pipeline is written once (``sql_queries.py``) and translated for Spark, so
these tests run the nodes on both engines and compare every output row for row: parsed values,
rejects with their line numbers, row accounting, playlists, the split, the track table. One
SparkSession (``local[2]``) serves the whole module.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from music_recsys import duckdb_sql, spark_sql
from music_recsys.datasets import PlaylistCsvDataset, SparkPlaylistTextDataset
from music_recsys.pipelines.data_processing import nodes
from music_recsys.pipelines.data_processing.params import (
    CleaningParams,
    FilterParams,
    OrderCheckParams,
    SplitParams,
)
from music_recsys.tables import to_pandas

from .conftest import SHARED_DATA, TINY_DEMO, copy_project, require_scale, run

JAVA_17 = Path("/usr/lib/jvm/java-17-openjdk-amd64")


@pytest.fixture(scope="module")
def spark():
    require_scale("pyspark")
    if "JAVA_HOME" not in os.environ and JAVA_17.is_dir():
        os.environ["JAVA_HOME"] = str(JAVA_17)
    session = spark_sql.start(
        {
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": 2,
            "spark.ui.enabled": False,
            "spark.ui.showConsoleProgress": False,
            "spark.sql.execution.arrow.pyspark.enabled": True,
        },
        app_name="music_recsys-tests",
    )
    yield session
    session.stop()
    spark_sql._session = None  # noqa: SLF001


def run_nodes(raw) -> dict:
    """Every data_processing output for the raw lines ``raw``, as pandas frames and dicts."""
    out: dict = {}
    clean = nodes.clean_playlist_rows(nodes.parse_playlist_lines(raw), CleaningParams())
    out["clean_rows"] = to_pandas(clean)
    if isinstance(clean, duckdb.DuckDBPyRelation):  # as the catalog hands it over: stored
        clean = duckdb_sql.relation(out["clean_rows"])
    tracks, playlists, out["filter_summary"] = nodes.filter_playlists(
        clean, FilterParams(min_track_frequency=1, min_playlist_length=2)
    )
    out["playlist_tracks"], out["playlists"] = to_pandas(tracks), to_pandas(playlists)
    out["tracks"] = to_pandas(nodes.build_track_table(tracks))
    out["track_order_report"] = nodes.check_track_order(tracks, OrderCheckParams())
    *splits, out["split_summary"] = nodes.split_playlists(
        tracks, playlists, SplitParams(seed=7, train=0.6, validation=0.2, test=0.2)
    )
    for name, split in zip(nodes.SPLITS, splits, strict=True):
        out[f"playlists_{name}"] = to_pandas(split)
    out["row_accounting"] = nodes.account_for_rows(clean, out["filter_summary"])
    out["rejected_rows"] = nodes.collect_rejected_rows(clean)
    return out


def same_rows(name: str, duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(spark.columns) == list(duck.columns), name
    order = list(duck.columns)
    left = duck.sort_values(order, ignore_index=True).astype(object)
    right = spark.sort_values(order, ignore_index=True).astype(object)
    left, right = left.where(left.notna(), None), right.where(right.notna(), None)
    pd.testing.assert_frame_equal(left, right, obj=name)


def assert_same_outputs(duck: dict, spark: dict) -> None:
    assert duck.keys() == spark.keys()
    for name, value in duck.items():
        if isinstance(value, pd.DataFrame):
            same_rows(name, value, spark[name])
        else:
            assert json.dumps(value, sort_keys=True) == json.dumps(spark[name], sort_keys=True)


def test_both_engines_give_the_same_rows_on_every_quirk(spark, quirks_file):
    duck = run_nodes(PlaylistCsvDataset(str(quirks_file)).load())
    on_spark = run_nodes(SparkPlaylistTextDataset(str(quirks_file)).load())
    assert_same_outputs(duck, on_spark)
    rejected = on_spark["rejected_rows"].set_index("line_number")["reason"].to_dict()
    assert rejected[15] == "invalid_utf8" and rejected[11] == "wrong_field_count"
    assert on_spark["playlists_train"].shape[0] > 0


@pytest.mark.skipif(
    not (SHARED_DATA / "spotify_sample_10k.csv").is_file(), reason="the real sample is not here"
)
def test_both_engines_give_the_same_rows_on_the_real_sample(spark):
    path = str(SHARED_DATA / "spotify_sample_10k.csv")
    assert_same_outputs(
        run_nodes(PlaylistCsvDataset(path).load()),
        run_nodes(SparkPlaylistTextDataset(path).load()),
    )


def _stored(project: Path, spark_env: bool) -> dict:
    """What a data_processing run left in ``project``'s data/, read back with DuckDB."""
    tables = {
        "clean_rows": "02_intermediate/clean_rows",
        "playlist_tracks": "03_primary/playlist_tracks",
        "tracks": "03_primary/tracks",
        "playlists": "03_primary/playlists",
        **{f"playlists_{s}": f"04_model_input/playlists_{s}" for s in nodes.SPLITS},
    }
    out = {}
    for name, stem in tables.items():
        path = project / "data" / (f"{stem}.spark/*.parquet" if spark_env else f"{stem}.parquet")
        out[name] = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table().to_pandas()
    for name in ("row_accounting", "rejected_rows"):
        out[name] = pd.read_csv(project / "data" / "08_reporting" / f"{name}.csv")
    for name, folder in (
        ("filter_summary", "02_intermediate"),
        ("track_order_report", "03_primary"),
        ("split_summary", "04_model_input"),
    ):
        out[name] = json.loads((project / "data" / folder / f"{name}.json").read_text())
    return out


REAL_SAMPLE = SHARED_DATA / "spotify_sample_10k.csv"


@pytest.mark.integration
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="demo"),
        pytest.param(
            REAL_SAMPLE,
            id="real_sample",
            marks=pytest.mark.skipif(
                not REAL_SAMPLE.is_file(), reason="the real sample is not here"
            ),
        ),
    ],
)
def test_kedro_run_env_spark_stores_the_same_datasets_as_the_default_run(
    spark, tmp_path, monkeypatch, raw
):
    params = TINY_DEMO if raw is None else {"raw_data_path": str(raw)}
    duck_project = copy_project(tmp_path / "duckdb")
    spark_project = copy_project(tmp_path / "spark", envs=("spark",))
    monkeypatch.chdir(duck_project)
    run(duck_project, "data_processing", **params)
    monkeypatch.chdir(spark_project)
    run(spark_project, "data_processing", env="spark", **params)
    assert_same_outputs(_stored(duck_project, False), _stored(spark_project, True))


# --- what happens when Spark cannot start --------------------------------------------------------


def test_a_missing_pyspark_stops_with_what_to_install(monkeypatch):
    import builtins  # noqa: PLC0415

    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name.split(".")[0] == "pyspark":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(spark_sql.SparkSetupError, match=r"make scale.*\.\[scale\]"):
        spark_sql.check_installed()


def test_no_java_stops_with_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(spark_sql.SparkSetupError, match="Java 17.*JAVA_HOME="):
        spark_sql.check_java()


def test_an_unreachable_master_fails_within_seconds_naming_its_url():
    started = time.perf_counter()
    with pytest.raises(spark_sql.SparkSetupError, match=r"spark://127\.0\.0\.1:9"):
        spark_sql.check_reachable("spark://127.0.0.1:9")
    with pytest.raises(spark_sql.SparkSetupError, match=r"sc://127\.0\.0\.1:9"):
        spark_sql.check_reachable("sc://127.0.0.1:9")
    assert time.perf_counter() - started < 15


# --- the counting of the count-based candidates ---------------------------------------------------


def test_the_counts_of_the_count_based_fits_are_the_same_on_both_engines(spark):
    import numpy as np  # noqa: PLC0415

    from music_recsys.core import training_rows  # noqa: PLC0415
    from music_recsys.core.training_rows import build_track_index  # noqa: PLC0415

    rng = np.random.default_rng(3)
    rows = [
        (playlist, position, f"t{int(rng.zipf(1.6)) % 40}")
        for playlist in range(60)
        for position in range(int(rng.integers(1, 12)))
    ]
    frame = pd.DataFrame(rows, columns=["playlist_id", "position", "track_id"])
    duck, on_spark = duckdb_sql.relation(frame), spark.createDataFrame(frame)
    index = build_track_index(duck)
    pd.testing.assert_frame_equal(index, build_track_index(on_spark), check_dtype=False)
    for shuffled in (False, True):
        for a, b in zip(
            training_rows.rows_by_playlist(duck, index, shuffled=shuffled),
            training_rows.rows_by_playlist(on_spark, index, shuffled=shuffled),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    for positions in (False, True):  # each track's place in its playlist: STAN's kNN weight
        ids, matrix = training_rows.playlist_matrix(duck, index, positions=positions)
        spark_ids, spark_matrix = training_rows.playlist_matrix(on_spark, index, positions)
        np.testing.assert_array_equal(ids, spark_ids)
        assert (matrix != spark_matrix).nnz == 0
    for window, directed, shuffled in [(1, True, False), (3, False, True), (None, False, False)]:
        graph = training_rows.pair_graph(duck, index, window, directed, shuffled=shuffled)
        spark_graph = training_rows.pair_graph(on_spark, index, window, directed, shuffled)
        assert graph.nnz > 0 and (graph != spark_graph).nnz == 0, (window, directed, shuffled)
    # Sequential rules' 1/distance weights: summed in another order on Spark, so within float32.
    graph = training_rows.pair_graph(duck, index, 3, True, inverse_distance=True)
    spark_graph = training_rows.pair_graph(on_spark, index, 3, True, inverse_distance=True)
    assert (
        graph.nnz > 0 and (graph != 0).toarray().tolist() == (spark_graph != 0).toarray().tolist()
    )
    np.testing.assert_allclose(graph.toarray(), spark_graph.toarray(), rtol=1e-6)


def test_kedro_run_env_spark_without_java_stops_before_any_node_runs(tmp_path, monkeypatch):
    project = copy_project(tmp_path / "project", envs=("spark",))
    monkeypatch.chdir(project)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(spark_sql.SparkSetupError, match="(Java 17|scale)"):
        run(project, "data_processing", env="spark", **TINY_DEMO)
    assert not list(project.glob("data/0[2-8]_*/*"))


# --- the batch pipeline ---------------------------------------------------------------------------


def test_kedro_run_batch_env_spark_writes_the_same_next_tracks_as_duckdb(
    spark, demo_run, tmp_path, monkeypatch, quirks_file
):
    import shutil  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    project = tmp_path / "project"
    shutil.copytree(demo_run, project, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        copy_project(tmp_path / "spark", envs=("spark",)) / "conf/spark", project / "conf/spark"
    )
    monkeypatch.chdir(project)
    out = project / "data/07_model_output"
    for source in ("data/03_primary/playlist_tracks.parquet", str(quirks_file)):
        written = {}
        for env in (None, "spark"):
            run(project, "batch", env=env, batch_input=source, **TINY_DEMO)
            suffix = "spark" if env else "parquet"
            written[env] = pd.read_parquet(out / f"batch_recommendations.{suffix}").sort_values(
                ["playlist_id", "rank"], ignore_index=True
            )
            summary = json.loads((out / "batch/summary.json").read_text())
            written[f"{env}_summary"] = {k: v for k, v in summary.items() if k != "accounting"}
        duck, on_spark = written[None], written["spark"]
        assert (
            len(duck) > 0 and duck["playlist_id"].nunique() == written["None_summary"]["playlists"]
        )
        columns = ["playlist_id", "rank", "track_id", "artist", "track", "fallback"]
        pd.testing.assert_frame_equal(
            duck[columns].astype(object), on_spark[columns].astype(object), obj=source
        )
        np.testing.assert_array_equal(duck["score"], on_spark["score"])
        assert written["None_summary"] == written["spark_summary"]
