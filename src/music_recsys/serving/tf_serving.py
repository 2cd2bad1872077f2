"""A strict stand-in for TensorFlow Serving's REST API over a SavedModel, on loopback.

No TensorFlow Serving binary installs here, so the local endpoint and the deployment's check
put this in its place: the same routes, the request and answer rules of
:mod:`music_recsys.serving.json_tensor` (TF Serving 2.20's ``json_tensor.cc``), the signature
called with exactly the tensor the JSON describes, and errors as TF Serving writes them
(``{"error": …}`` with the status of the error's code). It answers:

- ``POST /v1/models/<name>[/versions/<n>]:predict`` — ``<name>`` is the model's name (the
  SageMaker container names it after the folder holding the version folder: ``model``), the
  version the package's (``1``); another name or version is a 404, ``:classify`` and
  ``:regress`` are 400 (the signature is a predict signature);
- ``GET /v1/models/<name>`` — the version's state, ``AVAILABLE`` once loaded.

Where it cannot be TF Serving: a tensor whose rank the signature does not take fails in
TensorFlow's Python call (400 here) rather than inside the graph (also 400 there, with another
message).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from music_recsys.serving.json_tensor import (
    HTTP_STATUS,
    Tensor,
    TensorError,
    make_json_response,
    parse_predict_request,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

logger = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<method>[a-z]+))?$",
    re.IGNORECASE,
)
_VERBS = ("predict", "classify", "regress")
_DTYPES = {  # tf.DType.name → json_tensor's dtype names
    "string": "string",
    "float32": "float",
    "float64": "double",
    "bool": "bool",
    **{name: name for name in ("int8", "uint8", "int16", "int32", "uint32", "int64", "uint64")},
}


class TFServingStandIn:
    """TF Serving's REST ``predict`` over one SavedModel (see the module doc)."""

    def __init__(self, saved_model_dir: str | Path, model_name: str = "model") -> None:
        import tensorflow as tf  # noqa: PLC0415 - heavy; only when serving

        self._tf = tf
        folder = Path(saved_model_dir)
        self.model_name = model_name
        self.version = folder.name if folder.name.isdigit() else "1"
        self.saved_model = tf.saved_model.load(str(folder))
        self._signature = self.saved_model.signatures[DEFAULT_SIGNATURE]
        specs = self._signature.structured_input_signature[1]
        self.inputs = {
            name: _DTYPES.get(spec.dtype.name, spec.dtype.name) for name, spec in specs.items()
        }
        self._output_dtypes = {
            name: _DTYPES.get(spec.dtype.name, spec.dtype.name)
            for name, spec in self._signature.structured_outputs.items()
        }

    # --- the REST API, without a socket ---------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
        """``(HTTP status, JSON answer)`` for one request, as TF Serving's HTTP server."""
        refused = self._route(method, path)
        if refused is not None:
            return refused
        if method == "GET":
            return 200, {
                "model_version_status": [
                    {
                        "version": self.version,
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            }
        try:
            return 200, self.predict(body)
        except TensorError as error:
            return error.http_status, error.to_json()

    def _route(self, method: str, path: str) -> tuple[int, dict] | None:
        """The answer to a request this model does not take (None: a status or a predict),
        checked in TF Serving's order."""
        route = _ROUTE.match(path.split("?", 1)[0])
        if not route:
            return 404, {"error": f"Malformed request: {method} {path}"}
        name, version, label, verb = route.group("name", "version", "label", "method")
        verb = (verb or "").lower()
        wanted = f"Specific({name}, {version})" if version else f"Latest({name})"
        refusals = [
            (
                version is not None and not version.isdigit(),
                400,
                f"Failed to convert version: {version} to numeric.",
            ),
            (
                name != self.model_name or version not in (None, self.version),
                404,
                f"Servable not found for request: {wanted}",
            ),
            (label is not None, 400, f"Unrecognized servable version label: {label}"),
            (
                (method, verb) not in {("GET", ""), *(("POST", v) for v in _VERBS)},
                400,
                f"Malformed request: {method} {path}",
            ),
            (
                verb in ("classify", "regress"),
                400,
                f"Expected {verb} signature method_name to be tensorflow/serving/{verb}. "
                "Was: tensorflow/serving/predict",
            ),
        ]
        for refused, status, message in refusals:
            if refused:
                return status, {"error": message}
        return None

    def predict(self, body: bytes | str) -> dict:
        """The answer to a ``:predict`` body (raises :class:`TensorError` as TF Serving would
        answer an error)."""
        tf = self._tf
        request = parse_predict_request(body, self.inputs)
        if request.signature_name not in ("", DEFAULT_SIGNATURE):
            raise TensorError(
                f'Serving signature name: "{request.signature_name}" not found in signature def'
            )
        feeds = {}
        for name, tensor in request.tensors.items():
            flat = tf.constant(
                tensor.values,
                dtype=tf.as_dtype(_tf_dtype(tensor.dtype)),
                shape=[len(tensor.values)],
            )
            feeds[name] = tf.reshape(flat, tensor.shape)
        try:
            outputs = self._signature(**feeds)
        except tf.errors.OpError as error:
            raise TensorError(error.message, _code_name(tf, error)) from None
        except (TypeError, ValueError) as error:  # a rank the signature does not take
            raise TensorError(str(error).split("\n")[0]) from None
        answers = {}
        # TF Serving's order follows a protobuf map (unspecified); a loaded SavedModel's dict
        # order varies from process to process: sorted, so that answers compare as text too.
        for name, value in sorted(outputs.items()):
            array = value.numpy()
            answers[name] = Tensor(
                self._output_dtypes[name], list(array.shape), array.reshape(-1).tolist()
            )
        return make_json_response(answers, request.row_format)

    # --- on a socket ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serves on ``host:port`` (0: any free port) in a background thread; returns the
        ``:predict`` URL, as the container's ``context.rest_uri``."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = stand_in.handle(method, self.path, body)
                data = json.dumps(answer, indent=4).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self._answer("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def log_message(self, format: str, *args) -> None:  # noqa: A002
                logger.debug("TF Serving stand-in: " + format, *args)

        self._server = _Server((host, port), Handler)
        threading.Thread(
            target=self._server.serve_forever, name="tf-serving-stand-in", daemon=True
        ).start()
        bound_host, bound_port = self._server.server_address[:2]
        return f"http://{bound_host}:{bound_port}/v1/models/{self.model_name}:predict"

    def stop(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
            self._server = None


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: 32 handler threads connecting at once overflowed it
    # (a reset connection, a 502). TF Serving's libevent server listens with the system's.
    request_queue_size = socket.SOMAXCONN
    daemon_threads = True


def _tf_dtype(dtype: str) -> str:
    return {"float": "float32", "double": "float64"}.get(dtype, dtype)


def _code_name(tf, error) -> str:
    """The gRPC code's name of a TensorFlow error (``INVALID_ARGUMENT``, …)."""
    names = {getattr(tf.errors, name): name for name in HTTP_STATUS if hasattr(tf.errors, name)}
    return names.get(error.error_code, "UNKNOWN")
