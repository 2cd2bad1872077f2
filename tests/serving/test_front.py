"""``serve``'s buffering front on its own (no model behind it): how it answers a client that
stalls or oversends before any worker would see the request."""

from __future__ import annotations

import json
import socket

import pytest

from music_recsys.serving.front import Front
from tests.shared import free_port

TIMEOUT = 0.5  # seconds a client may stall


@pytest.fixture
def front(tmp_path):
    port = free_port()
    served = Front("127.0.0.1", port, str(tmp_path / "none.sock"), 100, body_timeout=TIMEOUT)
    served.start()
    yield port
    served.stop()


def answer(port: int, sent: bytes) -> tuple[str, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(sent)
        head, _, body = client.recv(4096).partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


CHUNKED = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("sent", "what"),
    [
        (b"POST / HTTP/1.1\r\nHost: x", "headers"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc", "body"),
        (CHUNKED + b"5\r\nab", "body"),  # within a chunk
        (CHUNKED, "body"),  # before a chunk's size
    ],
)
def test_a_client_that_stalls_anywhere_gets_a_408_that_says_where(front, sent, what):
    status, body = answer(front, sent)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert body["error"].startswith(f"The request's {what} did not arrive: nothing came for 0.5 s")


@pytest.mark.parametrize(
    "sent",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + b"x" * 101,
        CHUNKED + b"65\r\n" + b"x" * 101 + b"\r\n0\r\n\r\n",
        CHUNKED + b"40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n",
    ],
)
def test_a_body_over_the_limit_gets_the_handlers_413_however_it_is_sent(front, sent):
    status, body = answer(front, sent)
    assert status == "HTTP/1.1 413 Payload Too Large"
    assert body["error"].endswith("at most 100 (SageMaker's InvokeEndpoint limit)")


def test_a_model_server_that_does_not_answer_is_a_502(front):
    status, body = answer(front, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
    assert status == "HTTP/1.1 502 Bad Gateway"
    assert body["error"].startswith("The model server did not answer")
