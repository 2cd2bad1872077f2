"""Benchmark: the local endpoint (`music-recsys serve`) under load, and under attack.

Starts ``music-recsys serve PACKAGE`` on loopback (its own process: gunicorn + falcon, the
package's ``code/inference.py``, the TF Serving stand-in over its SavedModel) and sends it
real requests — held-out playlists of the project that made the package, one playlist a
request (``{"instances": [[...]]}``), up to 50 seeds each — from a bounded asyncio client
(aiohttp): for each concurrency, as many requests as it can in the given seconds, every answer
checked (200 and one prediction). Beside it, the same requests through the same handler
in-process (``LocalEndpoint.invoke``: falcon's WSGI simulation, no socket, same TF Serving
stand-in), so the server's own overhead shows as a ratio. The server's memory (its process and
children, RSS) is sampled twice a second: start, peak and end of each phase.

Then a hostile barrage — malformed JSON, a 10 MB body (with a length and chunked), 10,000
seeds, 1,001 playlists, JSON nested 100,000 deep, non-UTF-8 bytes, a wrong content type, an
oversized header, a seed that is a 100,000-digit number, a client that disconnects mid-body —
none may get a 5xx (each refusal a 4xx; the number is a seed no catalog holds: answered; the
disconnect has no one to answer: the server must just stay up), ``/ping`` must answer after
each, and the valid requests must be answered exactly as before. Last, slow clients: twice as
many connections as the server has threads send half a body and stall; a valid request made
meanwhile must be answered as fast and as before, and each stalled client must get its 408
once the server's ``--body-timeout`` has passed.

Usage (from the project root; loopback only):
    .venv/bin/python benchmarks/endpoint_load.py [--package PATH] [--seconds 30] [--concurrency 1 8 32]
The default package is the full-size one ``benchmarks/full_size.py`` leaves in
``benchmarks/.work/full_size`` (else the demo's ``data/09_deployment/model.tar.gz``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import psutil

from common import ENVIRONMENT, PROJECT, WORKDIR
from music_recsys.serving.server import ping, start

FULL_SIZE = WORKDIR / "full_size"
MAX_REQUESTS = 200_000  # a bound on any one phase, whatever its seconds


def default_project() -> Path:
    return FULL_SIZE if (FULL_SIZE / "data/09_deployment/model.tar.gz").exists() else PROJECT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def requests_of(project: Path, limit: int = 2000) -> list[bytes]:
    queries = pd.read_parquet(project / "data/04_model_input/validation_queries.parquet")
    return [json.dumps({"instances": [list(q)]}).encode() for q in queries["query"].iloc[:limit]]


class Memory:
    """RSS of a process and its children, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss_gb(self) -> float:
        processes = [self._process, *self._process.children(recursive=True)]
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 1e9

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append(self.rss_gb())

    def mark(self) -> int:
        return len(self.samples)

    def since(self, mark: int) -> tuple[float, float, float]:
        window = self.samples[mark:] or [self.rss_gb()]
        return window[0], max(window), window[-1]

    def stop(self) -> None:
        self._stop.set()


def summary(latencies: list[float], errors: int, wall: float) -> dict:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")
    return {
        "requests": len(latencies) + errors,
        "rps": len(latencies) / wall if wall else 0.0,
        "p50_ms": 1000 * statistics.median(ordered) if ordered else float("nan"),
        "p99_ms": 1000 * p99,
        "errors": errors,
    }


async def load(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict:
    import aiohttp  # noqa: PLC0415

    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json"}

    async def worker(session) -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline and counter < MAX_REQUESTS:
            body = bodies[counter % len(bodies)]
            counter += 1
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.json()
                    ok = response.status == 200 and len(answer["predictions"]) == 1
            except Exception:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return summary(latencies, errors, time.perf_counter() - started)


def in_process(endpoint, bodies: list[bytes], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(MAX_REQUESTS))
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            response = endpoint.invoke(bodies[i % len(bodies)])
            elapsed = time.perf_counter() - started
            with lock:
                if response.status == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return summary(latencies, errors, time.perf_counter() - started)


# --- the barrage --------------------------------------------------------------------------------


def raw_request(port: int, payload: bytes, read: bool = True) -> int | None:
    """Sends raw bytes; the status line's code (None: no answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
        try:
            client.sendall(payload)
        except OSError:
            pass  # the server answered and closed before the whole body went
        if not read:
            return None
        try:
            head = client.recv(64)
        except OSError:
            return None
    parts = head.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def post(body: bytes, content_type: str = "application/json", extra: bytes = b"") -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def chunked(body: bytes) -> bytes:
    chunks = b"".join(
        f"{len(body[i : i + 65536]):x}\r\n".encode() + body[i : i + 65536] + b"\r\n"
        for i in range(0, len(body), 65536)
    )
    return (
        b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )


def barrage(seeds: list[str]) -> list[tuple[str, bytes, int | None]]:
    """(name, raw request, the status class it must get: 4 a refusal, 2 an answer; None: the
    client leaves, nothing to read)."""
    ten_mb = json.dumps({"instances": [seeds * (10 * 2**20 // max(1, len(json.dumps(seeds))))]})
    return [
        ("malformed JSON", post(b'{"instances": [["a", }'), 4),
        ("a 10 MB body", post(ten_mb.encode()), 4),
        ("a 10 MB body, chunked", chunked(ten_mb.encode()), 4),
        ("10,000 seeds", post(json.dumps({"instances": [(seeds * 10_000)[:10_000]]}).encode()), 4),
        ("1,001 playlists", post(json.dumps({"instances": [seeds[:2]] * 1001}).encode()), 4),
        ("JSON nested 100,000 deep", post(b"[" * 100_000), 4),
        ("non-UTF-8 bytes", post(b'{"instances": [["\xff\xfe\xfd"]]}'), 4),
        ("a wrong content type", post(b'{"instances": [["a"]]}', "text/plain"), 4),
        ("a 64 KB header", post(b"{}", extra=b"X-Big: " + b"x" * 65536 + b"\r\n"), 4),
        (
            "a 100,000-digit number as a seed",
            post(b'{"instances": [[' + b"7" * 100_000 + b"]]}"),
            2,
        ),
        (
            "a client that disconnects mid-body",
            b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n" + b'{"instances": [["',
            None,
        ),
    ]


def slow_clients(port: int, count: int, body: bytes) -> dict:
    """``count`` connections send half of ``body`` and stall; a valid request is timed while
    they do; then each stalled one's answer is read (a 408 once the body timeout passed)."""
    import http.client  # noqa: PLC0415

    def ask() -> tuple[float, str]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        answer = connection.getresponse().read().decode()
        connection.close()
        return time.perf_counter() - started, answer

    alone, expected = ask()
    stalled = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=120)
        client.sendall(post(body)[: -len(body) // 2])
        stalled.append(client)
    started = time.perf_counter()
    during, answer = ask()
    statuses = []
    for client in stalled:
        with client:
            head = client.recv(64)
        parts = head.split(b" ")
        statuses.append(int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None)
    return {
        "alone_ms": alone * 1000,
        "during_ms": during * 1000,
        "same": answer == expected,
        "statuses": statuses,
        "answered_after_s": time.perf_counter() - started,
    }


def answers(port: int, bodies: list[bytes]) -> list[str]:
    import http.client  # noqa: PLC0415

    out = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        out.append(connection.getresponse().read().decode())
    connection.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", type=Path, help="model.tar.gz (default: see the module doc)")
    parser.add_argument("--project", type=Path, help="the project whose validation playlists ask")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--body-timeout", type=float, default=5.0, help="serve's --body-timeout")
    args = parser.parse_args()
    project = args.project or default_project()
    package = args.package or project / "data/09_deployment/model.tar.gz"
    bodies = requests_of(project)
    seeds = json.loads(bodies[0])["instances"][0]
    metadata_kind = json.loads(
        subprocess.run(
            ["tar", "xzf", str(package), "-O", "metadata.json"], capture_output=True, check=True
        ).stdout
    )
    port = free_port()
    started = time.perf_counter()
    server = start(
        package,
        port,
        WORKDIR / "endpoint_load_server.log",
        ENVIRONMENT | {"MUSIC_RECSYS_CACHE": str(WORKDIR / "endpoint_load_cache")},
        threads=max(args.concurrency),
        timeout=600,
        body_timeout=args.body_timeout,
    )
    memory = Memory(server.pid)
    print(
        f"package: {package} ({metadata_kind['candidate']}, {metadata_kind.get('catalog_tracks', '?'):,} "
        f"tracks, {package.stat().st_size / 1e9:.2f} GB); requests: {len(bodies)} held-out playlists, "
        f"one a request; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; server ready in "
        f"{time.perf_counter() - started:.1f} s\n"
    )
    url = f"http://127.0.0.1:{port}/invocations"
    asyncio.run(load(url, bodies, 1, min(5.0, args.seconds)))  # warm-up, not reported
    before = answers(port, bodies[:50])

    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415 - TensorFlow

    local = LocalEndpoint(package)
    print(
        "| concurrency | server req/s | p50 ms | p99 ms | errors | in-process req/s | p50 ms | "
        "p99 ms | server/in-process p50 | server RSS GB start → peak → end |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for concurrency in args.concurrency:
        mark = memory.mark()
        served = asyncio.run(load(url, bodies, concurrency, args.seconds))
        first, peak, last = memory.since(mark)
        reference = in_process(local, bodies, concurrency, args.seconds)
        print(
            f"| {concurrency} | {served['rps']:.1f} | {served['p50_ms']:.1f} | {served['p99_ms']:.1f} | "
            f"{served['errors']} of {served['requests']} | {reference['rps']:.1f} | "
            f"{reference['p50_ms']:.1f} | {reference['p99_ms']:.1f} | "
            f"{served['p50_ms'] / reference['p50_ms']:.2f} | {first:.2f} → {peak:.2f} → {last:.2f} |"
        )
    local.close()

    print("\n| hostile request | status | /ping after |")
    print("|---|---|---|")
    refused = True
    for name, payload, expected in barrage(seeds):
        status = raw_request(port, payload, read=expected is not None)
        alive = ping(port)
        good = alive and (status is None if expected is None else (status or 0) // 100 == expected)
        refused &= good
        print(
            f"| {name} | {status if status is not None else 'no answer (gone)'} | {'200' if alive else 'DOWN'} |"
        )
    after = answers(port, bodies[:50])
    identical = sum(a == b for a, b in zip(before, after, strict=True))
    print(
        f"\nafter the barrage: {identical} of {len(before)} valid requests answered identically; "
        f"every hostile request answered as it should (refusals 4xx, no 5xx) and the server up: "
        f"{'yes' if refused else 'NO'}; server RSS at the end {memory.rss_gb():.2f} GB"
    )
    count = 2 * max(args.concurrency)
    slow = slow_clients(port, count, bodies[0])
    print(
        f"\nslow clients: {count} connections ({count // max(args.concurrency)}× the server's "
        f"threads) send half a body and stall; a valid request took {slow['during_ms']:.1f} ms "
        f"meanwhile ({slow['alone_ms']:.1f} ms alone), answered "
        f"{'as before' if slow['same'] else 'DIFFERENTLY'}; the stalled ones got "
        f"{sorted(set(slow['statuses']), key=str)} after {slow['answered_after_s']:.1f} s "
        f"(--body-timeout {args.body_timeout:g} s)"
    )
    memory.stop()
    os.killpg(server.pid, signal.SIGTERM)
    code = server.wait(timeout=60)
    print(f"SIGTERM: the server exited with {code}")


if __name__ == "__main__":
    main()
