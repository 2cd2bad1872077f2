"""What people open: kedro viz, the MLflow UI and the notebooks, checked as a person would.

The servers run on localhost in their own process group (stopped with the group: killing
`kedro viz` alone leaves its server child running); pages are rendered by headless Debian
Chromium (.ci/run installs it) and the screenshots checked to be a drawn page, not a blank one.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from tests.conftest import ENVIRONMENT, PROJECT_ROOT

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("MUSIC_RECSYS_REQUIRE_BROWSER"),
    reason="Debian chromium is not installed (.ci/run installs it)",
)


def free_port() -> int:
    """A free port below 49152: kedro-viz refuses ports in the ephemeral range the OS hands out
    for port 0."""
    for port in random.Random().sample(range(20_000, 40_000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 40000")


@contextmanager
def server(command: list[str], cwd: Path, ready_url: str, timeout: float = 90):
    """Starts ``command`` in its own process group; yields once ``ready_url`` answers."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=ENVIRONMENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=2):  # noqa: S310 - localhost
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (
                        process.stdout.read().decode(errors="replace") if process.stdout else ""
                    )
                    raise RuntimeError(f"{command[0]} did not start:\n{output[-3000:]}") from None
                time.sleep(0.5)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def get_json(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - localhost
        return json.loads(response.read())


def screenshot(url: str, path: Path, size: str = "1600,1000") -> np.ndarray:
    """Renders ``url`` in headless Chromium, as the probe of this machine does; the pixels."""
    assert CHROMIUM, "chromium is required (MUSIC_RECSYS_REQUIRE_BROWSER is set)"
    profile = path.parent / f"chromium-{path.stem}"
    subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--window-size={size}", "--virtual-time-budget=20000",
            f"--screenshot={path}", url,
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("L"))


def looks_drawn(pixels: np.ndarray) -> bool:
    """Not a blank page: many grey levels and enough contrast."""
    return len(np.unique(pixels)) > 30 and pixels.std() > 15


def test_kedro_viz_shows_every_pipeline_layers_and_candidates(demo_run, tmp_path):
    port = free_port()
    kedro = str(Path(sys.executable).parent / "kedro")
    url = f"http://127.0.0.1:{port}"
    with server(
        [kedro, "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
        demo_run,
        f"{url}/api/main",
    ):
        main = get_json(f"{url}/api/main")
        assert {p["id"] for p in main["pipelines"]} >= {
            "__default__",
            "data_processing",
            "data_science",
            "reporting",
            "deployment",
            "batch",
        }
        # The batch pipeline's tables come after the models they are ranked with.
        assert get_json(f"{url}/api/pipelines/batch")["layers"][-1] == "batch"
        layers = main["layers"]
        expected = [
            "raw",
            "intermediate",
            "primary",
            "model_input",
            "models",
            "model_output",
            "selected_model",
            "reporting",
            "viz",
            "report",
        ]
        assert set(expected) <= set(layers)
        # Data-flow order: each layer after those it is made from. The selected model and the
        # reporting tables both come from the evaluation, and neither from the other.
        before = {
            "intermediate": "raw",
            "primary": "intermediate",
            "model_input": "primary",
            "models": "model_input",
            "model_output": "models",
            "selected_model": "model_output",
            "reporting": "model_output",
            "viz": "reporting",
            "report": "viz",
        }
        assert all(layers.index(earlier) < layers.index(later) for later, earlier in before.items())
        names = {node["name"] for node in main["nodes"]}
        assert {"parse_playlist_lines_node", "select_candidate_node", "build_report_node"} <= names
        namespaces = {
            n["modular_pipelines"][0] for n in main["nodes"] if n.get("modular_pipelines")
        }
        assert {"cooccurrence", "most_popular", "transitions", "w2v_music_sg"} <= namespaces
        assert {"training", "evaluation", "plots"} <= {t["id"] for t in main["tags"]}
        tracks = next(n for n in main["nodes"] if n["name"] == "playlist_tracks")
        assert get_json(f"{url}/api/nodes/{tracks['id']}")["preview"]["columns"][:3] == [
            "playlist_id",
            "position",
            "track_id",
        ]
        if CHROMIUM or os.environ.get("MUSIC_RECSYS_REQUIRE_BROWSER"):
            pixels = screenshot(url, tmp_path / "kedro-viz.png")
            assert looks_drawn(pixels), "kedro viz rendered a blank page"


def test_mlflow_ui_shows_the_run_variants_figures_and_registered_model(demo_run, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = str(Path(sys.executable).parent / "mlflow")
    command = [
        mlflow,
        "ui",
        "--backend-store-uri",
        f"sqlite:///{demo_run / 'mlflow.db'}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with server(command, demo_run, f"{url}/health"):
        experiment = get_json(
            f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=music_recsys"
        )["experiment"]
        found = get_json(
            f"{url}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment["experiment_id"]]}
        )["runs"]
        default_run = next(r for r in found if r["info"]["run_name"] == "__default__")
        params = {p["key"]: p["value"] for p in default_run["data"]["params"]}
        metrics = {m["key"] for m in default_run["data"]["metrics"]}
        for variant in ("w2v_music_sg", "w2v_tutorial_cbow_mc5"):
            assert f"{variant}.word2vec.window" in params
            assert f"data_science_metrics.{variant}.validation.hit_rate_at_10" in metrics
        run_id = default_run["info"]["run_id"]
        figures = get_json(f"{url}/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=06_viz")[
            "files"
        ]
        assert {Path(f["path"]).name for f in figures} >= {"metric_curves.png", "latent_space.png"}
        model = get_json(
            f"{url}/api/2.0/mlflow/registered-models/get?name=music_recsys_recommender"
        )
        assert model["registered_model"]["latest_versions"]
        if CHROMIUM or os.environ.get("MUSIC_RECSYS_REQUIRE_BROWSER"):
            pixels = screenshot(
                f"{url}/#/experiments/{experiment['experiment_id']}", tmp_path / "mlflow.png"
            )
            assert looks_drawn(pixels), "the MLflow UI rendered a blank page"


@pytest.mark.parametrize("notebook", ["01_explore_data_and_models.ipynb", "02_ask_the_model.ipynb"])
def test_notebooks_run_headlessly_and_are_committed_without_outputs(demo_run, notebook):
    source = PROJECT_ROOT / "notebooks" / notebook
    committed = nbformat.read(source, as_version=4)
    assert all(
        not cell.get("outputs") and not cell.get("execution_count")
        for cell in committed.cells
        if cell.cell_type == "code"
    )
    folder = demo_run / "notebooks"
    folder.mkdir(exist_ok=True)
    shutil.copy(source, folder / notebook)
    client = NotebookClient(
        committed, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    old = dict(os.environ)
    os.environ.update(ENVIRONMENT)
    try:
        executed = client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    assert not (folder / "mlflow.db").exists()  # the notebook tracked into the project's store
