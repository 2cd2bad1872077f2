"""music_recsys.runners.DaskRunner: the demo run on a two-worker LocalCluster, while another
process keeps a core busy, equals a sequential run (the same tuning plan, trials and tuned
settings, the same selection, the same metrics for every candidate, one MLflow run), and a
node's error in a worker surfaces in the driver with the node's name.

Skipped where dask's ``distributed`` is not installed, unless MUSIC_RECSYS_REQUIRE_SCALE=1 (CI),
where its absence fails.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from tests.conftest import TINY_DEMO, copy_project, nested, require_scale

distributed = require_scale("distributed")

from kedro.framework.hooks import hook_impl  # noqa: E402
from kedro.framework.hooks.manager import _create_hook_manager  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402
from kedro.io import DataCatalog, MemoryDataset  # noqa: E402
from kedro.pipeline import Node, Pipeline  # noqa: E402
from kedro_datasets.pickle import PickleDataset  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from music_recsys import duckdb_sql  # noqa: E402
from music_recsys.pipelines.candidates import declared_candidates  # noqa: E402
from music_recsys.runners import DaskRunner, ScratchDataset  # noqa: E402

DEMO_FILE = "data/01_raw/demo/spotify_dataset.csv"

# Wall times, throughputs and memory differ between any two runs; everything else must not.
TIMING = re.compile(r"seconds|per_second|run_profile|peak_rss")


def without_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def mlflow_runs(project: Path) -> list[Any]:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("music_recsys")
    return client.search_runs([experiment.experiment_id])


def demo_run(root: Path, runner: Any = None) -> Path:
    """The default pipeline on tiny demo data in a fresh copy of the project; gensim on one
    thread, so that word2vec trains the same vectors twice."""
    copy_project(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        params = dict(TINY_DEMO)
        for name, candidate in declared_candidates().items():
            if candidate.kind.name == "word2vec":
                params[f"{name}.word2vec.workers"] = 1
        bootstrap_project(root)
        with KedroSession.create(project_path=root, runtime_params=nested(params)) as session:
            session.run(runner=runner)
    return root


@contextlib.contextmanager
def busy_core():
    """Another process spinning on a core while the block runs (trials take longer)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


@pytest.fixture(scope="module")
def sequential_and_dask(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("dask")
    sequential = demo_run(base / "sequential")
    # No address: the runner starts (and closes) a LocalCluster of two single-threaded workers;
    # with a core kept busy, every trial takes longer than in the sequential run.
    with busy_core():
        dask = demo_run(base / "dask", DaskRunner(n_workers=2, threads_per_worker=1))
    return sequential, dask


@pytest.mark.integration
def test_the_dask_run_selects_and_scores_like_the_sequential_run(sequential_and_dask):
    sequential, dask = sequential_and_dask
    output = Path("data/07_model_output")

    def read(project: Path, name: str) -> Any:
        return without_timing(json.loads((project / output / name).read_text()))

    assert read(dask, "model_selection.json") == read(sequential, "model_selection.json")
    assert read(dask, "test_metrics.json") == read(sequential, "test_metrics.json")
    # Tuning is counted in trials: the same plan, trials and tuned settings, however busy.
    plans = [
        json.loads((p / "data/05_models/tuning_plan.json").read_text()) for p in (dask, sequential)
    ]
    assert plans[0] == plans[1]
    candidates = sorted(p.name for p in (sequential / output).iterdir() if p.is_dir())
    assert len(candidates) >= 4 and candidates == sorted(
        p.name for p in (dask / output).iterdir() if p.is_dir()
    )
    for candidate in candidates:
        for name in ("validation_metrics.json", "training_metrics.json"):
            assert read(dask, f"{candidate}/{name}") == read(sequential, f"{candidate}/{name}"), (
                candidate,
                name,
            )
        trials = [
            project / output / candidate / "tuning_trials.csv" for project in (sequential, dask)
        ]
        if trials[0].exists():
            frames = [pd.read_csv(t).filter(regex=r"^(?!.*seconds)") for t in trials]
            pd.testing.assert_frame_equal(frames[1], frames[0])
    for candidate in candidates:
        tuned = [
            project / "data/05_models" / candidate / "tuned_settings.json"
            for project in (sequential, dask)
        ]
        if tuned[0].exists():
            assert json.loads(tuned[1].read_text()) == json.loads(tuned[0].read_text())
    results = [
        pd.read_csv(p / output / "model_results.csv").filter(regex=r"^(?!.*seconds)")
        for p in (sequential, dask)
    ]
    pd.testing.assert_frame_equal(results[1], results[0])
    assert not (dask / "data/.dask_scratch").exists()  # the run's scratch files are gone


@pytest.mark.integration
def test_the_dask_run_is_one_mlflow_run_with_every_candidates_metrics(sequential_and_dask):
    sequential, dask = sequential_and_dask
    (expected,), (tracked,) = mlflow_runs(sequential), mlflow_runs(dask)
    assert tracked.info.status == "FINISHED"
    # Each copy reads its own demo file; every other parameter is the same.
    assert Path(tracked.data.params.pop("raw_data.path")) == dask / DEMO_FILE
    assert Path(expected.data.params.pop("raw_data.path")) == sequential / DEMO_FILE
    assert tracked.data.params == expected.data.params
    assert without_timing(tracked.data.metrics) == without_timing(expected.data.metrics)
    candidates = {p.name for p in (dask / "data/07_model_output").iterdir() if p.is_dir()}
    for candidate in candidates:
        assert f"data_science_metrics.{candidate}.validation.hit_rate_at_10" in tracked.data.metrics
    assert "data_science_metrics.selected.test.hit_rate_at_10" in tracked.data.metrics
    client = MlflowClient(tracking_uri=f"sqlite:///{dask / 'mlflow.db'}")
    artifacts = {a.path for a in client.list_artifacts(tracked.info.run_id)}
    assert {"report.html", "model_results.csv", "run_profile.json"} <= artifacts


@pytest.mark.integration
def test_the_candidates_fit_on_both_workers(sequential_and_dask, tmp_path):
    _, dask = sequential_and_dask
    (tracked,) = mlflow_runs(dask)
    client = MlflowClient(tracking_uri=f"sqlite:///{dask / 'mlflow.db'}")
    path = client.download_artifacts(tracked.info.run_id, "run_profile.json", str(tmp_path))
    profile = json.loads(Path(path).read_text())
    fits = [n for n in profile["nodes"] if n["node"].endswith(("fit_node", "train_node"))]
    assert len(fits) >= 4
    assert len({n["worker"] for n in fits}) == 2  # the candidates' fits were spread out
    assert all(n["seconds"] >= n["run_seconds"] >= 0 for n in profile["nodes"])


# --- the runner on small pipelines, on one shared cluster ----------------------------------------


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def double(x: int) -> int:
    return 2 * x


def fail(x: int) -> int:
    raise ValueError(f"cannot use {x}")


class Recorder:
    """Records the node hooks the runner calls (in the driver: this object is never pickled)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hook_impl
    def before_node_run(self, node: Node, inputs: dict) -> None:
        self.calls.append(("before", node.name, tuple(sorted(inputs))))

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        self.calls.append(("after", node.name))

    @hook_impl
    def on_node_error(self, error: Exception, node: Node) -> None:
        self.calls.append(("error", node.name, type(error).__name__))


def test_a_node_error_in_a_worker_surfaces_with_the_node_name(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    catalog = DataCatalog(
        {
            "x": PickleDataset(filepath=str(tmp_path / "x.pkl")),
            "params:factor": MemoryDataset(3),
        }
    )
    catalog.save("x", 1)
    pipeline = Pipeline(
        [
            Node(double, "x", "doubled", name="double_node"),
            Node(fail, "doubled", "never", name="failing_node"),
        ]
    )
    recorder = Recorder()
    manager = _create_hook_manager()
    manager.register(recorder)
    with pytest.raises(ValueError, match="cannot use 2") as raised:
        DaskRunner(address=cluster.scheduler_address).run(pipeline, catalog, manager)
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "failing_node" in notes and "Dask worker tcp://" in notes
    assert ("error", "failing_node", "ValueError") in recorder.calls
    assert ("after", "double_node") in recorder.calls
    assert not (tmp_path / "data/.dask_scratch").exists()


def test_memory_outputs_cross_processes_and_params_reach_the_hooks(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    catalog = DataCatalog(
        {
            "x": PickleDataset(filepath=str(tmp_path / "x.pkl")),
            "params:factor": MemoryDataset(3),
            "offset": MemoryDataset(1),  # an in-memory input of the pipeline: sent by the driver
        }
    )
    catalog.save("x", 5)

    pipeline = Pipeline(
        [
            Node(double, "x", "doubled", name="double_node"),  # a free (memory) output
            Node(multiply, ["doubled", "params:factor"], "result", name="multiply_node"),
            Node(add, ["result", "offset"], "total", name="add_node"),
        ]
    )
    recorder = Recorder()
    manager = _create_hook_manager()
    manager.register(recorder)
    result = DaskRunner(address=cluster.scheduler_address).run(pipeline, catalog, manager)
    assert result["total"].load() == 31  # a pipeline output comes back to the driver's catalog
    assert ("before", "multiply_node", ("params:factor",)) in recorder.calls
    assert ("before", "double_node", ()) in recorder.calls
    assert ("before", "add_node", ("offset",)) in recorder.calls
    assert not (tmp_path / "data/.dask_scratch").exists()


def multiply(x: int, factor: int) -> int:
    return x * factor


def add(x: int, y: int) -> int:
    return x + y


def duckdb_memory_limit(_: Any) -> str:
    return duckdb_sql.connection().sql("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_the_drivers_duckdb_settings_apply_in_the_workers(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    previous = duckdb_sql.settings()
    duckdb_sql.configure({"memory_limit": "123MB", "temp_directory": str(tmp_path / "spill")})
    try:
        catalog = DataCatalog({"x": PickleDataset(filepath=str(tmp_path / "x.pkl"))})
        catalog.save("x", 0)
        pipeline = Pipeline([Node(duckdb_memory_limit, "x", "limit", name="limit_node")])
        result = DaskRunner(address=cluster.scheduler_address).run(pipeline, catalog)
    finally:
        duckdb_sql.configure(previous)
    assert result["limit"].load() == "117.3 MiB"  # DuckDB's way of writing 123 MB


def test_scratch_datasets_keep_relations_and_python_objects(tmp_path):
    relation = duckdb_sql.sql("SELECT range AS i, 'a' || range AS s FROM range(5)")
    stand_in = ScratchDataset(tmp_path / "table")
    stand_in.save(relation)
    loaded = stand_in.load()
    assert isinstance(loaded, duckdb.DuckDBPyRelation)
    assert loaded.fetchall() == relation.fetchall()
    frame = pd.DataFrame({"a": [1, 2]}, index=["x", "y"])
    stand_in.save(frame)  # replaces the Parquet file
    pd.testing.assert_frame_equal(stand_in.load(), frame)
    stand_in.release()
    assert not stand_in.exists()
