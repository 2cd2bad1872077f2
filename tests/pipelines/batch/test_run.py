"""``kedro run --pipelines batch`` on the demo run: every playlist answered, as the endpoint
answers it. (On Spark: tests/test_engines.py.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_DEMO, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def batch_run(demo_run, tmp_path_factory):
    """A copy of the demo run (so its MLflow runs stay as the other tests expect them), after
    `kedro run --pipelines batch`."""
    root = tmp_path_factory.mktemp("batch") / "project"
    shutil.copytree(demo_run, root, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        run(root, "batch", **TINY_DEMO)
    return root


def test_every_playlist_gets_its_next_tracks_as_the_endpoint_answers(batch_run):
    pytest.importorskip("tensorflow")
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415

    playlists = pd.read_parquet(batch_run / "data/03_primary/playlists.parquet")
    written = pd.read_parquet(batch_run / "data/07_model_output/batch_recommendations.parquet")
    assert set(written["playlist_id"]) == set(playlists["playlist_id"])
    assert (written.groupby("playlist_id")["rank"].max() == 10).all()
    summary = json.loads((batch_run / "data/07_model_output/batch/summary.json").read_text())
    assert summary["playlists"] == len(playlists) and summary["model"] == "deployed"
    assert summary["rows"]["read"] == summary["rows"]["kept"]  # the primary layer: all clean
    client = MlflowClient(tracking_uri=f"sqlite:///{batch_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("music_recsys")
    latest = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"]
    )[0]
    assert "summary.json" in {a.path for a in client.list_artifacts(latest.info.run_id)}

    queries = pd.read_parquet(batch_run / "data/07_model_output/batch/queries.parquet")
    sample = queries.sample(40, random_state=0)
    with LocalEndpoint(batch_run / "data/09_deployment/model.tar.gz") as endpoint:
        answers = endpoint.predict({"instances": [list(s) for s in sample["seeds"]]})
    for playlist_id, answer in zip(sample["playlist_id"], answers["predictions"], strict=True):
        mine = written[written["playlist_id"] == playlist_id].sort_values("rank")
        assert mine["track_id"].tolist() == [t for t in answer["track_ids"] if t], playlist_id
        np.testing.assert_allclose(
            mine["score"],
            [s for s, t in zip(answer["scores"], answer["track_ids"], strict=True) if t],
            1e-5,
        )


def test_a_playlists_file_is_scored_and_its_bad_lines_kept_aside(
    batch_run, quirks_file, monkeypatch
):
    monkeypatch.chdir(batch_run)
    run(batch_run, "batch", batch_input=str(quirks_file), **{"batch.model": "selected"})
    summary = json.loads((batch_run / "data/07_model_output/batch/summary.json").read_text())
    rows = summary["rows"]
    assert rows["read"] == rows["kept"] + rows["rejected"] + rows["filtered"]
    assert rows["rejected"] > 0 and summary["model"] == "selected"
    rejected = pd.read_parquet(batch_run / "data/07_model_output/batch/rejected_rows.parquet")
    assert {"line_number", "reason"} <= set(rejected.columns)
    written = pd.read_parquet(batch_run / "data/07_model_output/batch_recommendations.parquet")
    # The quirks' artists are unknown to the demo model: each playlist gets the most popular.
    assert written["fallback"].all() and summary["fell_back_to_popular"] == summary["playlists"]
