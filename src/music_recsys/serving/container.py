"""The SageMaker TensorFlow Serving container's front, as a falcon app: ``/ping`` and
``/invocations`` exactly as its ``python_service.py`` serves them when a package holds
``code/inference.py``.

Written from the TF 2.20 inference image's own source (aws/deep-learning-containers,
``scripts/docker/tensorflow/inference/sagemaker/python_service.py`` and ``tfs_utils.py``):

- the package's ``code/inference.py`` is loaded as the module ``inference`` from its file
  (``handler``, else ``input_handler`` + ``output_handler``);
- each request becomes ``handler(data, context)``: ``data`` the body stream, ``context`` the
  same 11-field ``Context`` (content type and accept default to ``application/json``; the
  ``X-Amzn-SageMaker-Custom-Attributes`` header may name ``tfs-model-name``,
  ``tfs-model-version`` and ``tfs-method``, checked as the container checks them: 400);
- a returned ``(body, content_type)`` is a 200; a ``falcon.HTTPError`` keeps its status
  (falcon writes its body); any other exception is a 500 ``{"error": str(e)}``;
- ``GET /ping`` is a 200 with an empty body.

Two additions: a body over ``max_body_bytes`` (SageMaker's InvokeEndpoint refuses more than
6 MB before the container sees it) is a 413 here, before it is read; a body cut short (the
client went away) is a 400, where the container's handler would see a short read. Falcon writes
an error's body per the client's Accept header, as in the container: JSON for none, ``*/*`` or
``application/json``, nothing for an Accept that takes neither JSON nor XML.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from collections import namedtuple
from pathlib import Path

import falcon

# The front's own errors are written as the handler's and TF Serving's are: {"error": ...}.
from music_recsys.serving.inference import RequestError as JsonError

logger = logging.getLogger(__name__)

Context = namedtuple(
    "Context",
    "model_name, model_version, method, rest_uri, grpc_port, channel, "
    "custom_attributes, request_content_type, accept_header, content_length, timeout",
)

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
DEFAULT_CONTENT_TYPE = "application/json"
DEFAULT_ACCEPT_HEADER = "application/json"
_MODEL_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,254}\Z")
_MODEL_VERSION = re.compile(r"^\d+$")
_METHODS = frozenset({"predict", "classify", "regress"})
DRAIN_LIMIT = 64 * 2**20  # a refused body longer than this is not read: the connection closes


def load_handler(script: Path):
    """The package's handler, loaded as the container loads it (module name ``inference``,
    not put in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location("inference", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "handler"):
        return module.handler
    if hasattr(module, "input_handler") and hasattr(module, "output_handler"):
        raise NotImplementedError(
            f"{script}: input_handler/output_handler pairs are not served here; define handler"
        )
    raise NotImplementedError("Handlers are not implemented correctly in user script.")


def custom_attributes(header: str | None) -> dict[str, str]:
    """``tfs-*`` attributes of the custom-attributes header (``parse_tfs_custom_attributes``)."""
    if not header:
        return {}
    return dict(match.split("=", 1) for match in re.findall(r"(tfs-[a-z\-]+=[^,]+)", header))


def tfs_uri(base: str, default_model: str, attributes: dict[str, str]) -> str:
    """TF Serving's URL for a request (``make_tfs_uri``; ``base`` is ``http://host:port``).

    Raises:
        ValueError: An invalid ``tfs-*`` attribute (a 400, as in the container).
    """
    header_name = attributes.get("tfs-model-name")
    name = header_name or default_model
    version = attributes.get("tfs-model-version")
    method = attributes.get("tfs-method", "predict")
    if header_name is not None and not _MODEL_NAME.match(header_name):
        raise ValueError("invalid tfs-model-name")
    if version is not None and not _MODEL_VERSION.match(version):
        raise ValueError("invalid tfs-model-version: must be a positive integer")
    if method not in _METHODS:
        raise ValueError("invalid tfs-method: must be one of predict|classify|regress")
    uri = f"{base}/v1/models/{name}"
    if version:
        uri += "/versions/" + version
    return uri + ":" + method


class _Ping:
    def on_get(self, req: falcon.Request, res: falcon.Response) -> None:
        res.status = falcon.HTTP_200


class _Invocations:
    def __init__(self, handler, tfs_base: str, default_model: str, timeout: int) -> None:
        self._handler = handler
        self._tfs_base = tfs_base
        self._default_model = default_model
        self._timeout = timeout

    def on_post(self, req: falcon.Request, res: falcon.Response) -> None:
        attributes = custom_attributes(req.get_header(CUSTOM_ATTRIBUTES_HEADER))
        try:
            uri = tfs_uri(self._tfs_base, self._default_model, attributes)
        except ValueError as error:
            res.status = falcon.HTTP_400
            res.data = json.dumps({"error": str(error)}).encode("utf-8")
            return
        context = Context(
            attributes.get("tfs-model-name"),
            attributes.get("tfs-model-version"),
            attributes.get("tfs-method"),
            uri,
            None,  # grpc_port: the stand-in answers REST only
            None,  # channel
            req.get_header(CUSTOM_ATTRIBUTES_HEADER),
            req.get_header("Content-Type") or DEFAULT_CONTENT_TYPE,
            req.get_header("Accept") or DEFAULT_ACCEPT_HEADER,
            req.content_length,
            self._timeout,
        )
        try:
            res.status = falcon.HTTP_200
            body, content_type = self._handler(_Body(req.stream), context)
            res.data = body if isinstance(body, bytes) else str(body).encode("utf-8")
            res.content_type = str(content_type)
        except falcon.HTTPError:
            raise
        except Exception as error:
            logger.exception("exception handling request: %s", error)
            res.status = falcon.HTTP_500
            res.content_type = falcon.MEDIA_JSON
            res.data = json.dumps({"error": str(error)}).encode("utf-8")
        finally:  # a body the handler refused unread (too long, chunked) is still received
            drain(req.stream, DRAIN_LIMIT)


class _Body:
    """The request stream; a body cut short (the client went away) reads as a 400."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except Exception as error:  # gunicorn's NoMoreData and friends, OSError
            raise JsonError(400, f"The body could not be read to its end: {error}") from None


def body_too_large(length: int, limit: int) -> str:
    """What a 413 says of a body of ``length`` bytes over ``limit`` (here, and in ``serve``'s
    front)."""
    return f"The body has {length:,} bytes; at most {limit:,} (SageMaker's InvokeEndpoint limit)"


def drain(stream, limit: int) -> None:
    """Reads what is left of a body (at most ``limit`` bytes), so that a client still sending
    it gets the answer rather than a broken pipe."""
    left = limit
    try:
        while left > 0 and (chunk := stream.read(min(left, 2**20))):
            left -= len(chunk)
    except Exception:  # noqa: S110 - the client went away: nothing to answer
        pass


class _BodyLimit:
    """Refuses a body longer than ``max_body_bytes`` (by its Content-Length) without handling
    it; up to :data:`DRAIN_LIMIT` of it is read and dropped, so the client hears why."""

    def __init__(self, max_body_bytes: int) -> None:
        self._max = max_body_bytes

    def process_request(self, req: falcon.Request, res: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > self._max:
            if req.content_length <= DRAIN_LIMIT:
                drain(req.bounded_stream, req.content_length)
            raise JsonError(413, body_too_large(req.content_length, self._max))


def create_app(
    script: Path,
    tfs_base: str,
    default_model: str = "model",
    timeout: int = 60,
    max_body_bytes: int = 6 * 1024 * 1024,
) -> falcon.App:
    """The container's front for the package whose ``code/inference.py`` is ``script``,
    asking TF Serving at ``tfs_base`` (``http://host:port``)."""
    app = falcon.App(middleware=[_BodyLimit(max_body_bytes)])
    app.add_route("/ping", _Ping())
    app.add_route(
        "/invocations", _Invocations(load_handler(script), tfs_base, default_model, timeout)
    )
    return app
