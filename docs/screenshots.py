"""Takes the README's pictures: kedro viz and the MLflow UI, rendered by headless Chromium.

Run from the project root after `make run` (the UIs need a run to show):

    .venv/bin/python docs/screenshots.py

It starts each UI on localhost, drives Chromium over the DevTools protocol (to close kedro-viz's
welcome pop-ups and wait for the graph), and writes docs/images/*.png, with copies of three
figures of the last run (data/06_viz).
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

PROJECT = Path(__file__).resolve().parents[1]
IMAGES = PROJECT / "docs" / "images"
BIN = Path(sys.executable).parent
ENV = dict(
    os.environ, KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MLFLOW_DISABLE_TELEMETRY="true"
)

CLOSE_POPUPS = """
for (const button of document.querySelectorAll('button, [role=button]')) {
  const text = (button.innerText || button.getAttribute('aria-label') || '').trim().toLowerCase();
  if (['dismiss', 'close', 'got it', 'skip', 'no thanks'].includes(text)) button.click();
}
for (const close of document.querySelectorAll('[class*="close"] , [aria-label*="lose"]')) close.click();
"""


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


def wait(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - localhost
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


class Browser:
    """Headless Chromium driven over the DevTools protocol."""

    def __init__(self, width: int = 1600, height: int = 1000) -> None:
        self.port = free_port()
        self.profile = tempfile.mkdtemp()
        self.process = subprocess.Popen(
            [
                shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}", f"--remote-debugging-port={self.port}",
                "--remote-allow-origins=*", "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            wait(f"http://127.0.0.1:{self.port}/json/version")
            pages = json.loads(
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list").read()
            )  # noqa: S310
            page = next(t for t in pages if t["type"] == "page")
            self.socket = websocket.create_connection(
                page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
            )
        except Exception:
            os.killpg(self.process.pid, signal.SIGKILL)  # no browser left behind
            raise
        self.id = 0

    def call(self, method: str, **params) -> dict:
        self.id += 1
        self.socket.send(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.id:
                return message.get("result", {})

    def shoot(self, url: str, path: Path, settle: float = 8) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        time.sleep(settle)
        for _ in range(3):
            self.call("Runtime.evaluate", expression=CLOSE_POPUPS)
            time.sleep(1)
        time.sleep(5)  # kedro-viz says where to find its closed hints for 4 s
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path}")

    def close(self) -> None:
        self.socket.close()
        os.killpg(self.process.pid, signal.SIGTERM)


FIGURES = ("metric_curves.png", "latent_space.png", "power_law.png")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:  # figures of the last run, for the README
        shutil.copy(PROJECT / "data" / "06_viz" / name, IMAGES / name)
        print(f"copied {name}")
    browser = Browser()
    try:
        viz = [str(BIN / "kedro"), "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port"]
        shoot_server(browser, viz, "/api/main", "/", "kedro-viz.png")
        store = f"sqlite:///{PROJECT / 'mlflow.db'}"
        ui = [
            str(BIN / "mlflow"),
            "ui",
            "--backend-store-uri",
            store,
            "--host",
            "127.0.0.1",
            "--port",
        ]
        shoot_server(browser, ui, "/health", "/#/experiments/1/runs", "mlflow-ui.png")
    finally:
        browser.close()


def shoot_server(browser: Browser, command: list[str], ready: str, page: str, image: str) -> None:
    """Starts ``command`` + a free port in its own process group, screenshots ``page``, stops."""
    port = free_port()
    process = subprocess.Popen(
        [*command, str(port)], cwd=PROJECT, env=ENV, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait(f"http://127.0.0.1:{port}{ready}")
        browser.shoot(f"http://127.0.0.1:{port}{page}", IMAGES / image)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
