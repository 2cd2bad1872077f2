"""End to end: `kedro run` in a scratch copy of the project, on demo data and on a given file."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from tests.conftest import PROJECT_ROOT, QUIRK_LINES, write_quirks_file

pytestmark = pytest.mark.integration

TINY_DEMO = {"demo_data.n_users": 40, "demo_data.n_playlists": 300, "demo_data.n_artists": 200}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration and code, so runs leave the checkout alone.

    Runs start in its root, as `kedro run` does. The tracking URI is made absolute because
    MLflow caches one store per URI in a process, and every copy's would be sqlite:///mlflow.db.
    """
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT_ROOT / "conf/base", root / "conf/base", ignore=ignore)
    (root / "conf/local").mkdir()  # your local overrides and secrets stay out of the copy
    shutil.copytree(PROJECT_ROOT / "src", root / "src", ignore=ignore)
    mlflow_yml = root / "conf/base/mlflow.yml"
    text = mlflow_yml.read_text(encoding="utf-8")
    assert "sqlite:///mlflow.db" in text
    mlflow_yml.write_text(
        text.replace("sqlite:///mlflow.db", f"sqlite:///{root}/mlflow.db"), encoding="utf-8"
    )
    monkeypatch.chdir(root)
    return root


def nested(params: dict) -> dict:
    """{"a.b": 1} → {"a": {"b": 1}}, as `kedro run --params a.b=1` does."""
    result: dict = {}
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node = result
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return result


def run(project: Path, pipeline: str | None = None, **params) -> None:
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=nested(params)) as session:
        session.run(pipeline_names=[pipeline] if pipeline else None)


def latest_mlflow_run(project: Path) -> dict:
    """The newest run in the project's own tracking store, flattened like ``search_runs``."""
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("music_recsys")
    run = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )[0]
    return (
        {"status": run.info.status, "run_id": run.info.run_id}
        | {f"params.{k}": v for k, v in run.data.params.items()}
        | {f"metrics.{k}": v for k, v in run.data.metrics.items()}
    )


def test_kedro_run_on_a_fresh_clone_generates_demo_data_and_tracks_the_run(project, caplog):
    run(project, **TINY_DEMO)
    demo = project / "data/01_raw/demo/spotify_dataset.csv"
    assert demo.exists() and demo.with_suffix(".params.json").exists()
    accounting = pd.read_csv(project / "data/08_reporting/row_accounting.csv")
    read = accounting.loc[accounting["outcome"] == "read", "rows"].sum()
    assert read == sum(1 for _ in demo.open(encoding="utf-8")) - 1
    assert read == accounting.loc[accounting["outcome"] != "read", "rows"].sum()
    for split in ("train", "validation", "test"):
        assert len(pd.read_parquet(project / f"data/04_model_input/playlists_{split}.parquet")) > 0

    results = pd.read_csv(project / "data/07_model_output/model_results.csv")
    assert {"most_popular", "cooccurrence", "transitions", "w2v_music_sg"} <= set(
        results["candidate"]
    )
    assert results["selected"].sum() == 2  # the chosen candidate, on validation and on test
    assert (project / "data/05_models/selected_recommender.pkl").exists()

    tracked = latest_mlflow_run(project)
    assert tracked["status"] == "FINISHED"
    assert "metrics.data_science_metrics.cooccurrence.validation.hit_rate_at_10" in tracked
    assert "metrics.data_science_metrics.selected.test.hit_rate_at_10" in tracked
    assert "metrics.data_science_metrics.w2v_music_sg.training.words_per_second" in tracked
    assert tracked["params.w2v_music_sg.word2vec.sg"] == "1"
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    assert (
        client.get_registered_model("music_recsys_recommender").name == "music_recsys_recommender"
    )
    assert tracked["params.split.seed"] == "42"
    assert tracked["params.raw_data.is_demo"] == "True"
    assert tracked["params.demo_data.n_playlists"] == "300"
    assert tracked["metrics.data_processing_metrics.rows_read"] == read

    # reporting: every figure and the report, also logged to the run
    figures = sorted(p.name for p in (project / "data/06_viz").glob("*.png"))
    assert len(figures) == 7
    report = (project / "data/08_reporting/report.html").read_text(encoding="utf-8")
    assert report.count("data:image/png;base64,") == 7
    assert "metrics.power_law_metrics.artist.alpha" in tracked
    artifacts = {a.path for a in client.list_artifacts(tracked["run_id"])}
    artifacts |= {a.path for a in client.list_artifacts(tracked["run_id"], "06_viz")}
    assert {"report.html", "model_results.csv"} <= artifacts
    assert {f"06_viz/{name}" for name in figures} <= artifacts

    # deployment: refit, package, parity and TF-Serving checks; SageMaker stays disabled
    run(project, "deployment", **TINY_DEMO)
    info = json.loads((project / "data/09_deployment/deployment_info.json").read_text())
    assert info["fit"].startswith("all playlists") and info["candidate"] in set(
        results["candidate"]
    )
    check = json.loads((project / "data/09_deployment/serving_check.json").read_text())
    assert check["mismatches"] == 0 and check["parity_queries"] > 0
    record = json.loads((project / "data/09_deployment/deployment_record.json").read_text())
    assert record == {"deployed": False, "reason": "deployment.sagemaker.enabled is false"}
    with tarfile.open(project / "data/09_deployment/model.tar.gz") as archive:
        assert "1/saved_model.pb" in archive.getnames()
    deployment_run = latest_mlflow_run(project)
    assert "model.tar.gz" in {a.path for a in client.list_artifacts(deployment_run["run_id"])}

    # A second run reuses the file; other demo parameters regenerate it.
    stamp = demo.stat().st_mtime_ns
    run(project, "data_processing", **TINY_DEMO)
    assert demo.stat().st_mtime_ns == stamp
    run(project, "data_processing", **{**TINY_DEMO, "demo_data.seed": 3})
    assert demo.stat().st_mtime_ns != stamp


def test_raw_data_path_runs_every_pipeline_on_another_file(project, tmp_path):
    quirks = write_quirks_file(tmp_path / "quirks.csv")
    run(project, raw_data_path=str(quirks))
    assert not (project / "data/01_raw/demo/spotify_dataset.csv").exists()
    rejected = pd.read_csv(project / "data/08_reporting/rejected_rows.csv")
    assert set(rejected["reason"]) == {
        "invalid_utf8",
        "wrong_field_count",
        "malformed_quoting",
        "separator_in_name",
    }
    accounting = pd.read_csv(project / "data/08_reporting/row_accounting.csv")
    assert accounting.loc[accounting["outcome"] == "read", "rows"].item() == len(QUIRK_LINES)
    tracked = latest_mlflow_run(project)
    assert tracked["params.raw_data.path"] == str(quirks)
    assert tracked["params.raw_data.is_demo"] == "False"


def test_bad_parameters_fail_before_any_node_runs(project, tmp_path):
    quirks = write_quirks_file(tmp_path / "quirks.csv")
    with pytest.raises(Exception, match="must be 1"):
        run(project, raw_data_path=str(quirks), **{"split.train": 0.9})
    with pytest.raises(Exception, match="min_playlist_lenght"):
        run(project, raw_data_path=str(quirks), **{"filters.min_playlist_lenght": 3})
    assert not (project / "data/02_intermediate/parsed_lines.parquet").exists()
