"""``music-recsys serve``: a package on a socket, asked as a person with curl would ask it.

One server process for the module (starting one loads TensorFlow: seconds); the load test
with its hostile barrage is ``benchmarks/endpoint_load.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time

import pytest

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.integration  # a server process

from music_recsys.serving.server import start  # noqa: E402
from tests.conftest import ENVIRONMENT  # noqa: E402
from tests.shared import free_port, write_package  # noqa: E402

BODY_TIMEOUT = 2.0  # seconds a client may stall mid-request (the conf's default is 10)
README_REQUEST = json.dumps({"instances": [["A1|||t1", "A2|||t2"], ["A3|||t3"]]}).encode()


def ask(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(fitted_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    package = folder / "model.tar.gz"
    write_package(fitted_models["cooccurrence"], package, k=5)
    port = free_port()
    environment = ENVIRONMENT | {"MUSIC_RECSYS_CACHE": str(folder / "cache")}
    process = start(
        package, port, folder / "serve.log", environment, timeout=120, body_timeout=BODY_TIMEOUT
    )
    yield {"process": process, "port": port, "log": folder / "serve.log"}
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)


def test_the_readme_request_is_answered(server):
    body = README_REQUEST
    status, content_type, answer = ask(
        server["port"], "POST", "/invocations", body, {"Content-Type": "application/json"}
    )
    assert status == 200 and content_type.startswith("application/json")
    predictions = json.loads(answer)["predictions"]
    assert len(predictions) == 2 and all(len(p["track_ids"]) == 5 for p in predictions)
    status, _, answer = ask(
        server["port"],
        "POST",
        "/invocations",
        b"A1|||t1,A2|||t2\r\nA3|||t3\r\n",
        {"Content-Type": "text/csv"},
    )
    assert status == 200 and json.loads(answer)["predictions"] == predictions


def test_refusals_on_the_socket_and_the_server_stays_up(server):
    port = server["port"]
    status, _, answer = ask(port, "POST", "/invocations", b"[]", {"Content-Type": "text/plain"})
    assert status == 415 and "Unsupported Media Type" in json.loads(answer)["error"]
    status, _, answer = ask(
        port, "POST", "/invocations", b"x" * (7 * 2**20), {"Content-Type": "application/json"}
    )
    assert status == 413 and "at most 6,291,456" in json.loads(answer)["error"]
    chunks = b"".join(b"100000\r\n" + b"x" * 0x100000 + b"\r\n" for _ in range(7))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
        )
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and b"at most 6,291,456" in answer  # chunked too
    status, _, _ = ask(
        port, "POST", "/invocations", b"\xff\xfe", {"Content-Type": "application/json"}
    )
    assert status == 400
    # A client that promises 1,000 bytes, sends 10 and goes away.
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"instance'
        )
    assert ask(port, "GET", "/ping")[0] == 200
    assert ask(port, "GET", "/nowhere")[0] == 404


def test_stalled_clients_hold_no_worker_and_get_a_408(server):
    """Sixteen clients (twice the worker's threads) send half a body and stall: a request
    made meanwhile is answered at once, as before; each stalled one gets a 408 once it has
    been quiet for the body timeout, as nginx answers in the container."""
    port = server["port"]
    headers = {"Content-Type": "application/json"}
    before = ask(port, "POST", "/invocations", README_REQUEST, headers)
    stalled = []
    for _ in range(16):
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        client.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"instances": [["A1|||t1", '
        )
        stalled.append(client)
    started = time.monotonic()
    during = ask(port, "POST", "/invocations", README_REQUEST, headers)
    assert time.monotonic() - started <= 1.0
    assert during == before
    answers = []
    for client in stalled:
        with client:
            answers.append(client.recv(4096))
    waited = time.monotonic() - started
    assert BODY_TIMEOUT - 0.5 <= waited <= BODY_TIMEOUT + 3
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408") and b"nothing came for 2 s" in body
    assert ask(port, "GET", "/ping")[0] == 200


def test_a_number_seed_of_any_length_is_taken_as_its_text(server):
    huge = b'{"instances": [["A1|||t1", ' + b"7" * 100_000 + b"]]}"
    status, _, answer = ask(
        server["port"], "POST", "/invocations", huge, {"Content-Type": "application/json"}
    )
    assert status == 200  # an id no catalog holds: ignored, as an unknown seed is
    alone = ask(
        server["port"],
        "POST",
        "/invocations",
        b'{"instances": [["A1|||t1"]]}',
        {"Content-Type": "application/json"},
    )[2]
    assert json.loads(answer) == json.loads(alone)


def test_it_listens_on_loopback_and_stops_cleanly_on_sigterm(server):
    process = server["process"]
    assert f"http://127.0.0.1:{server['port']}" in server["log"].read_text()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    with pytest.raises(OSError):
        ask(server["port"], "GET", "/ping")
