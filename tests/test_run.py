"""End to end: `kedro run` in a scratch copy of the project, on demo data and on a given file."""

from __future__ import annotations

import json
import pickle
import tarfile
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from music_recsys.core.catalog import Query
from tests.conftest import QUIRK_LINES, TINY_DEMO, run, write_quirks_file

pytestmark = pytest.mark.integration


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


def runs(project: Path) -> list[dict]:
    """Every MLflow run of the project, oldest first, flattened like ``search_runs``."""
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("music_recsys")
    found = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return [
        {"status": r.info.status, "run_id": r.info.run_id}
        | {f"params.{k}": v for k, v in r.data.params.items()}
        | {f"metrics.{k}": v for k, v in r.data.metrics.items()}
        for r in found
    ]


def test_kedro_run_on_a_fresh_clone_generates_demo_data_and_accounts_for_it(demo_run):
    demo = demo_run / "data/01_raw/demo/spotify_dataset.csv"
    assert demo.exists() and demo.with_suffix(".params.json").exists()
    accounting = pd.read_csv(demo_run / "data/08_reporting/row_accounting.csv")
    read = accounting.loc[accounting["outcome"] == "read", "rows"].sum()
    assert read == sum(1 for _ in demo.open(encoding="utf-8")) - 1
    assert read == accounting.loc[accounting["outcome"] != "read", "rows"].sum()
    for split in ("train", "validation", "test"):
        assert len(pd.read_parquet(demo_run / f"data/04_model_input/playlists_{split}.parquet")) > 0
    results = pd.read_csv(demo_run / "data/07_model_output/model_results.csv")
    assert {"most_popular", "cooccurrence", "transitions", "w2v_music_sg"} <= set(
        results["candidate"]
    )
    assert results["selected"].sum() == 2  # the chosen candidate, on validation and on test
    assert (demo_run / "data/05_models/selected_recommender.pkl").exists()
    figures = sorted(p.name for p in (demo_run / "data/06_viz").glob("*.png"))
    assert len(figures) == 7
    report = (demo_run / "data/08_reporting/report.html").read_text(encoding="utf-8")
    assert report.count("data:image/png;base64,") == 7


def test_every_run_is_tracked_in_mlflow(demo_run):
    default_run, deployment_run = runs(demo_run)
    assert default_run["status"] == deployment_run["status"] == "FINISHED"
    assert "metrics.data_science_metrics.cooccurrence.validation.hit_rate_at_10" in default_run
    assert "metrics.data_science_metrics.selected.test.hit_rate_at_10" in default_run
    assert "metrics.data_science_metrics.w2v_music_sg.training.words_per_second" in default_run
    assert "metrics.power_law_metrics.artist.alpha" in default_run
    assert default_run["params.w2v_music_sg.word2vec.sg"] == "1"
    assert default_run["params.split.seed"] == "42"
    assert default_run["params.raw_data.is_demo"] == "True"
    assert default_run["params.demo_data.n_playlists"] == "300"
    accounting = pd.read_csv(demo_run / "data/08_reporting/row_accounting.csv")
    read = accounting.loc[accounting["outcome"] == "read", "rows"].sum()
    assert default_run["metrics.data_processing_metrics.rows_read"] == read
    client = MlflowClient(tracking_uri=f"sqlite:///{demo_run / 'mlflow.db'}")
    # The registered model is this run's selected recommender, and answers as it does.
    (version,) = client.search_model_versions("name='music_recsys_recommender'")
    assert version.run_id == default_run["run_id"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{demo_run / 'mlflow.db'}")
    try:
        registered = mlflow.pyfunc.load_model(f"models:/music_recsys_recommender/{version.version}")
    finally:
        mlflow.set_tracking_uri(previous)
    selected = pickle.loads((demo_run / "data/05_models/selected_recommender.pkl").read_bytes())
    seeds = list(selected.index.track_ids[:2])
    answer = registered.predict(pd.DataFrame({"seed_track_ids": [seeds], "k": [5]}))
    query = Query.of(selected.index.lookup(seeds))
    top = selected.rank([query], 5)[0][0]
    assert answer["track_ids"][0] == selected.index.track_ids[top[top >= 0]].tolist()
    artifacts = {a.path for a in client.list_artifacts(default_run["run_id"])}
    artifacts |= {a.path for a in client.list_artifacts(default_run["run_id"], "06_viz")}
    figures = {f"06_viz/{p.name}" for p in (demo_run / "data/06_viz").glob("*.png")}
    assert {"report.html", "model_results.csv"} <= artifacts and figures <= artifacts
    assert "model.tar.gz" in {a.path for a in client.list_artifacts(deployment_run["run_id"])}


def test_deployment_refits_packages_and_checks_but_does_not_deploy_unless_enabled(demo_run):
    info = json.loads((demo_run / "data/09_deployment/deployment_info.json").read_text())
    results = pd.read_csv(demo_run / "data/07_model_output/model_results.csv")
    assert info["fit"].startswith("all playlists") and info["candidate"] in set(
        results["candidate"]
    )
    check = json.loads((demo_run / "data/09_deployment/serving_check.json").read_text())
    assert check["mismatches"] == 0 and check["parity_queries"] > 0
    # The smoke request asks what a client asks: playlists so far of several tracks.
    assert all(len(playlist) >= 3 for playlist in check["smoke_request"]["instances"])
    record = json.loads((demo_run / "data/09_deployment/deployment_record.json").read_text())
    assert record == {"deployed": False, "reason": "deployment.sagemaker.enabled is false"}
    with tarfile.open(demo_run / "data/09_deployment/model.tar.gz") as archive:
        assert "1/saved_model.pb" in archive.getnames()


def test_the_demo_file_is_reused_and_regenerated_when_its_parameters_change(project):
    run(project, "data_processing", **TINY_DEMO)
    demo = project / "data/01_raw/demo/spotify_dataset.csv"
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
    with pytest.raises(Exception, match="min_playlist_length"):
        run(project, raw_data_path=str(quirks), **{"filters.min_playlist_length": "many"})
    with pytest.raises(Exception, match="selection_metric"):
        run(project, raw_data_path=str(quirks), **{"evaluation.selection_metric": "hit_rate_at_7"})
    with pytest.raises(Exception, match="recency_decay"):
        run(project, raw_data_path=str(quirks), **{"ease.ease.recency_decay": 1.5})
    with pytest.raises(Exception, match="match_recency"):
        run(project, raw_data_path=str(quirks), **{"playlist_knn.playlist_knn.match_recency": "x"})
    assert not (project / "data/02_intermediate/clean_rows.parquet").exists()


def test_a_blend_of_unknown_candidates_is_rejected_before_any_node_runs(project):
    parameters = project / "conf/base/parameters_data_science.yml"
    text = parameters.read_text(encoding="utf-8")
    parameters.write_text(
        text.replace("components: [cooccurrence,", "components: [nope,"), encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"not candidates: \['nope'\]"):
        run(project, **TINY_DEMO)  # (`--pipelines data_processing` does not build the sweep)
    assert not (project / "data/01_raw/demo/spotify_dataset.csv").exists()
