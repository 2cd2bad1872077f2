"""``music-recsys serve``: a package as a local SageMaker endpoint a person can curl.

    music-recsys serve data/09_deployment/model.tar.gz --port 8080
    curl -s localhost:8080/ping
    curl -s -X POST localhost:8080/invocations -H 'Content-Type: application/json' \\
         -d '{"instances": [["Artist|||Title", "Other|||Song"], ["Artist|||Title"]]}'

The container's HTTP contract (:mod:`music_recsys.serving.container`: ``GET /ping``,
``POST /invocations`` in application/json, application/jsonlines, application/jsons or
text/csv, 415 otherwise) through the package's own ``code/inference.py``, in front of the TF
Serving stand-in over its SavedModel. It runs as the container does: a front that receives
each request whole before a worker sees it (:mod:`music_recsys.serving.front`, in place of
nginx: a client stalled mid-request gets a 408 after ``--body-timeout`` seconds — the
package's ``client_body_timeout`` — and never holds a worker thread), then gunicorn and falcon —
the servers of the container's own front — with one worker (the model is loaded once, in the
worker, never in the forking master) of ``--threads`` threads, on a private Unix socket. It
listens on 127.0.0.1 unless ``--host`` says otherwise, refuses bodies over the package's
``max_body_bytes`` (SageMaker's 6 MB) with a 413, and stops cleanly on SIGTERM or Ctrl-C
(gunicorn lets requests in flight finish).
"""

from __future__ import annotations

import argparse
import http.client
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from music_recsys.serving.front import Front
from music_recsys.serving.local import LocalEndpoint, package_folder, serving_limits

DEFAULT_PACKAGE = Path("data/09_deployment/model.tar.gz")


def _application(folder: Path, options: dict):
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415

    class Endpoint(BaseApplication):
        """A gunicorn application whose worker serves ``folder`` (loaded after the fork)."""

        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            endpoint = LocalEndpoint(folder)
            logging.getLogger(__name__).info(
                "Serving %s: POST /invocations, GET /ping (gunicorn on %s)", folder, options["bind"]
            )
            return endpoint.app

    return Endpoint()


def start(
    package: Path,
    port: int,
    log: Path,
    env: dict,
    threads: int = 8,
    timeout: float = 300,
    body_timeout: float | None = None,
) -> subprocess.Popen:
    """``music-recsys serve`` in a process of its own session (stop it with ``os.killpg``),
    returned once ``/ping`` answers; for tests and benchmarks.

    Raises:
        RuntimeError: If it exits or does not answer within ``timeout`` seconds.
    """
    command = [str(Path(sys.executable).parent / "music-recsys"), "serve", str(package)]
    command += ["--port", str(port), "--threads", str(threads)]
    if body_timeout is not None:
        command += ["--body-timeout", str(body_timeout)]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while not ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(
                f"music-recsys serve did not answer /ping:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.5)
    return process


def ping(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server on ``host:port`` answers ``GET /ping`` with a 200."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="music-recsys serve",
        description="Serve a model package as a local SageMaker endpoint (/ping, /invocations).",
    )
    parser.add_argument(
        "package",
        nargs="?",
        type=Path,
        default=DEFAULT_PACKAGE,
        help=f"model.tar.gz or an extracted package folder (default: {DEFAULT_PACKAGE})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (SageMaker's: 8080)")
    parser.add_argument("--threads", type=int, default=8, help="requests served at once")
    parser.add_argument(
        "--timeout", type=int, default=60, help="seconds a request may take (SageMaker's: 60)"
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        help="seconds a client may stall mid-request before a 408 "
        "(default: the package's client_body_timeout, else 10)",
    )
    args = parser.parse_args(argv)
    if not args.package.exists():
        print(  # noqa: T201
            f"No model package at {args.package}: run `kedro run --pipelines deployment` first.",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        folder = package_folder(args.package)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)  # noqa: T201
        return 2
    limits = serving_limits(folder)
    with tempfile.TemporaryDirectory(prefix="music_recsys_serve_") as private:
        backend = str(Path(private) / "gunicorn.sock")
        front = Front(
            args.host,
            args.port,
            backend,
            max_body_bytes=int(limits.get("max_body_bytes", 6 * 1024 * 1024)),
            body_timeout=args.body_timeout or float(limits.get("client_body_timeout", 10)),
            request_timeout=args.timeout + 30,
        )
        try:
            front.start()
        except OSError as error:
            print(f"Cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)  # noqa: T201
            return 2
        options = {
            "bind": f"unix:{backend}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": args.threads,
            "timeout": args.timeout,
            "graceful_timeout": 10,
            "accesslog": "-",
            "loglevel": "info",
            "control_socket_disable": True,  # gunicorn 26 opens one in ~/.gunicorn otherwise
            # The worker inherits the front's listening socket: only the master accepts.
            "post_fork": lambda server, worker: front.close_listener_in_child(),
        }
        try:
            _application(folder, options).run()
        finally:
            front.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
