"""The request handler of a music_recsys package: ``code/inference.py`` in ``model.tar.gz``.

SageMaker's TensorFlow Serving container (the TF 2.20 inference image, built from
aws/deep-learning-containers ``scripts/docker/tensorflow/inference/sagemaker/``) sends every
``POST /invocations`` of a package holding ``code/inference.py`` to ``python_service.py``,
which calls ``handler(data, context)``: ``data`` is the request's body stream, ``context`` a
``Context`` namedtuple (``rest_uri`` is TF Serving's ``:predict`` URL, ``request_content_type``,
``accept_header``, ``content_length``, ``timeout``, …; ``tfs_utils.parse_request`` fills both
types from the request's headers, ``application/json`` when absent). A normal return
``(body, content_type)`` is a 200; a ``falcon.HTTPError`` keeps its status; any other
exception is a 500.

TF Serving itself takes only rectangular string tensors (``json_tensor.cc``: every instance
the same shape, strings only, at least one instance), so this handler turns every request
shape the project documents into such a request, and answers ``{"predictions": [...]}``:

- ``application/json``: ``{"instances": [[seed, ...], ...]}`` (playlists of any lengths),
  ``{"instances": [{"seed_track_ids": [...]}, ...]}``, a bare list of playlists
  ``[[...], ...]``, a bare list of seeds ``[seed, ...]`` (one playlist), a bare string (one
  seed), or columnar ``{"inputs": {"seed_track_ids": [[...], ...]}}`` (answered, as TF Serving
  answers columnar requests, as ``{"outputs": {"track_ids": [...], "scores": [...]}}``); a body
  of several JSON values, one a line, is read as JSON lines;
- ``application/jsonlines`` / ``application/jsons``: one playlist (or object, or seed) a line;
- ``text/csv``: one playlist a line, its fields the seeds (RFC 4180 quoting).

The answer's form follows the request's ``Accept`` header (``context.accept_header``): JSON
as above, unless the first JSON type it names is ``application/jsonlines`` or
``application/jsons``: then one ``{"track_ids": [...], "scores": [...]}`` a line, one line per
playlist in request order (each ending in a newline), as ``application/jsonlines``. A
SageMaker Batch Transform sends its ``TransformOutput.Accept`` as that header with every
request: with ``SplitType: Line``, ``BatchStrategy: MultiRecord`` and ``AssembleWith: Line``,
its output then holds one line per input line, in order (an empty line may separate the
answers of two requests: a reader skips empty lines).

A seed is a track id, ``"<artist>|||<track>"``, oldest first; ``null`` is skipped; a number
or a boolean is taken as its JSON text (an id no catalog holds) — an integer of any length too
(read as a ``Decimal``: Python's ``int`` refuses more than 4,300 digits). An empty playlist, or one of
unknown ids only, gets the most popular tracks; zero instances get ``{"predictions": []}``
(TF Serving itself refuses them). Playlists are padded with ``""``, the signature's padding,
and sent ``rows_per_call`` at a time, so that the model's working memory stays bounded.

What it refuses, with a JSON ``{"error": "..."}`` that says what is wrong: a body over
``max_body_bytes`` or a request over ``max_instances`` playlists or ``max_seeds`` seeds in one
playlist (413); an unsupported content type (415); a body that is not UTF-8, not JSON, or not
one of the shapes above (400). The limits come from the package's ``metadata.json``
(``serving``; the deployment's parameters), else the defaults below; an environment variable
``MUSIC_RECSYS_<LIMIT>`` (e.g. ``MUSIC_RECSYS_MAX_INSTANCES``) raises or lowers one for a
container — a Batch Transform job sets them to what its ``MaxPayloadInMB`` of lines can hold.
TF Serving's own errors keep their status and message.

The container's Python has no TensorFlow and no network for a ``requirements.txt``: this
module imports the standard library and falcon (the container's web framework) only.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import falcon

INPUT = "seed_track_ids"
OUTPUTS = ("track_ids", "scores")
JSON = "application/json"
JSON_LINES = ("application/jsonlines", "application/jsons")
CSV = "text/csv"
CONTENT_TYPES = (JSON, *JSON_LINES, CSV)  # the container's own (tensorflowServing.js)

# SageMaker's InvokeEndpoint takes at most 6 MB a request body (4 MB serverless).
DEFAULT_LIMITS = {
    "max_body_bytes": 6 * 1024 * 1024,
    "max_instances": 1000,
    "max_seeds": 1000,
    "rows_per_call": 64,
}
_EXAMPLE = '{"instances": [["<artist>|||<track>", "<artist>|||<track>"]]}'


class RequestError(falcon.HTTPError):
    """A request the handler refuses: its status, and ``{"error": description}`` as body (the
    form TF Serving's own errors take)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(falcon.code_to_http_status(status), description=message)

    def to_dict(self, obj_type=dict):
        answer = obj_type()
        answer["error"] = self.description
        return answer


ENVIRONMENT_PREFIX = "MUSIC_RECSYS_"  # MUSIC_RECSYS_MAX_INSTANCES=...: a container's own limit


@functools.cache
def limits() -> dict:
    """The package's serving limits: ``MUSIC_RECSYS_<LIMIT>`` environment variables, else
    ``metadata.json`` beside ``code/``, else the defaults."""
    metadata = Path(__file__).resolve().parent.parent / "metadata.json"
    try:
        declared = json.loads(metadata.read_text(encoding="utf-8")).get("serving", {})
    except (OSError, ValueError):
        declared = {}
    chosen = {}
    for name, value in DEFAULT_LIMITS.items():
        override = os.environ.get(ENVIRONMENT_PREFIX + name.upper(), "").strip()
        chosen[name] = int(override) if override.isdigit() else int(declared.get(name) or value)
    return chosen


def handler(data, context) -> tuple[str, str]:
    """Answers one ``/invocations`` request (see the module doc)."""
    limit = limits()
    media_type = (context.request_content_type or JSON).split(";")[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        raise RequestError(
            415,
            f"Unsupported Media Type: {media_type}; send one of {', '.join(CONTENT_TYPES)}",
        )
    if context.content_length is not None and context.content_length > limit["max_body_bytes"]:
        raise _too_large(context.content_length, limit["max_body_bytes"])
    raw = data.read(limit["max_body_bytes"] + 1)
    if len(raw) > limit["max_body_bytes"]:
        raise _too_large(len(raw), limit["max_body_bytes"])
    row_format, playlists, signature = parse(raw, media_type)
    if len(playlists) > limit["max_instances"]:
        raise RequestError(
            413,
            f"{len(playlists)} playlists in one request; at most {limit['max_instances']} "
            "(send several requests)",
        )
    for i, seeds in enumerate(playlists):
        if len(seeds) > limit["max_seeds"]:
            raise RequestError(
                413,
                f"instance {i} has {len(seeds)} seeds; at most {limit['max_seeds']} (send the "
                "most recent tracks of the playlist)",
            )
    predictions = []
    for start in range(0, len(playlists), limit["rows_per_call"]):
        part = playlists[start : start + limit["rows_per_call"]]
        rows = [[seed for seed in seeds if seed is not None] for seeds in part]
        width = max([1, *(len(row) for row in rows)])
        body = {"instances": [row + [""] * (width - len(row)) for row in rows]}
        if signature is not None:
            body["signature_name"] = signature
        predictions += _predict(context, body)
    if answers_in_lines(getattr(context, "accept_header", None)):
        lines = (json.dumps({name: p[name] for name in OUTPUTS}) + "\n" for p in predictions)
        return "".join(lines), JSON_LINES[0]
    if row_format:
        return json.dumps({"predictions": predictions}), JSON
    columns = {name: [p[name] for p in predictions] for name in OUTPUTS}
    return json.dumps({"outputs": columns}), JSON


def answers_in_lines(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for JSON lines: the first JSON type it names is
    ``application/jsonlines`` or ``application/jsons`` (``*/*``, none or another type: JSON)."""
    for media_range in (accept or "").split(","):
        media_type = media_range.split(";")[0].strip().lower()
        if media_type in JSON_LINES:
            return True
        if media_type == JSON:
            return False
    return False


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(
        413, f"The body has {size:,} bytes; at most {limit:,} (SageMaker's InvokeEndpoint limit)"
    )


# --- reading a request ---------------------------------------------------------------------------


def parse(raw: bytes, media_type: str) -> tuple[bool, list[list[str | None]], str | None]:
    """``(row format, one seed list per playlist, signature name)`` of a request body.

    Raises:
        RequestError: 400, saying what is wrong and what to send instead.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RequestError(
            400, f"The body is not UTF-8: byte 0x{raw[error.start]:02x} at offset {error.start}"
        ) from None
    if media_type == CSV:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
        return True, [list(row) for row in rows], None
    if media_type in JSON_LINES:
        return True, _json_lines(text), None
    decoder = json.JSONDecoder(parse_int=Decimal)
    start = len(text) - len(text.lstrip())
    if start == len(text):
        raise RequestError(400, f"The body is empty; send e.g. {_EXAMPLE}")
    try:
        document, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise RequestError(
            400, f"The body is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise RequestError(400, "The body's JSON is nested too deeply") from None
    if text[end:].strip():  # several JSON values: JSON lines, as the container reads them
        return True, _json_lines(text), None
    return _document(document)


def _json_lines(text: str) -> list[list[str | None]]:
    playlists = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                value = json.loads(line, parse_int=Decimal)
            except json.JSONDecodeError as error:
                raise RequestError(
                    400,
                    f"JSON lines: line {number} is not JSON: {error.msg} at column {error.colno}",
                ) from None
            except RecursionError:
                raise RequestError(400, f"JSON lines: line {number} is nested too deeply") from None
            playlists.append(_playlist(value, len(playlists)))
    return playlists


def _document(document) -> tuple[bool, list[list[str | None]], str | None]:
    if isinstance(document, str):
        return True, [[document]], None
    if isinstance(document, list):
        if document and all(isinstance(item, list | dict) for item in document):
            return True, [_playlist(item, i) for i, item in enumerate(document)], None
        return True, [_seeds(document, 0)], None  # a bare list of seeds: one playlist
    if not isinstance(document, dict):
        raise RequestError(400, f"The body is a {_kind(document)}; send e.g. {_EXAMPLE}")
    signature = document.get("signature_name")
    if signature is not None and not isinstance(signature, str):
        raise RequestError(400, "'signature_name' must be a string")
    if "instances" in document and "inputs" in document:
        raise RequestError(400, "Send either 'instances' or 'inputs', not both")
    if "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise RequestError(
                400, f"'instances' is a {_kind(instances)}; it must be a list of playlists"
            )
        return True, [_playlist(item, i) for i, item in enumerate(instances)], signature
    if "inputs" in document:
        return False, _columnar(document["inputs"]), signature
    keys = ", ".join(repr(k) for k in list(document)[:5]) or "none"
    raise RequestError(
        400, f"Missing 'instances' or 'inputs' key (keys: {keys}); send e.g. {_EXAMPLE}"
    )


def _columnar(inputs) -> list[list[str | None]]:
    """Columnar ``inputs``: ``{"seed_track_ids": [[...], ...]}`` or the list itself."""
    if isinstance(inputs, dict):
        if INPUT not in inputs:
            raise RequestError(400, f"'inputs' has no '{INPUT}'")
        inputs = inputs[INPUT]
    if not isinstance(inputs, list):
        raise RequestError(400, f"'inputs' is a {_kind(inputs)}; it must be a list of playlists")
    if inputs and not all(isinstance(item, list) for item in inputs):
        return [_seeds(inputs, 0)]  # one playlist
    return [_seeds(item, i) for i, item in enumerate(inputs)]


def _playlist(instance, i: int) -> list[str | None]:
    """One instance: a list of seeds, ``{"seed_track_ids": [...]}`` or a single seed."""
    if isinstance(instance, dict):
        extra = sorted(set(instance) - {INPUT})
        if extra or INPUT not in instance:
            found = ", ".join(repr(k) for k in instance) or "none"
            raise RequestError(
                400, f"instance {i} is an object with keys {found}; its one key is '{INPUT}'"
            )
        instance = instance[INPUT]
        if isinstance(instance, str):
            return [instance]
    if isinstance(instance, str):
        return [instance]
    if not isinstance(instance, list):
        raise RequestError(
            400, f"instance {i} is a {_kind(instance)}; a playlist is a list of track ids"
        )
    return _seeds(instance, i)


def _seeds(values: list, i: int) -> list[str | None]:
    seeds = []
    for j, value in enumerate(values):
        if isinstance(value, list | dict):
            raise RequestError(
                400,
                f"instance {i}, seed {j} is a {_kind(value)}; a seed is a track id string "
                "('<artist>|||<track>')",
            )
        if value is None or isinstance(value, str):
            seeds.append(value)
        else:  # a number or a boolean: its JSON text (an integer of any length as it was sent)
            seeds.append(str(value) if isinstance(value, Decimal) else json.dumps(value))
    return seeds


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "JSON object", list: "list", str: "string"}.get(type(value), "number")


# --- asking TF Serving ---------------------------------------------------------------------------

# TF Serving runs beside the handler: never through a proxy the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _predict(context, body: dict) -> list:
    """TF Serving's predictions for a rectangular request; its errors keep their status."""
    request = urllib.request.Request(
        context.rest_uri,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": JSON},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=context.timeout) as response:
            return json.loads(response.read())["predictions"]
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            message = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            message = text
        raise RequestError(error.code, f"TensorFlow Serving: {message}") from None
    except (urllib.error.URLError, OSError) as error:
        raise RequestError(
            502, f"TensorFlow Serving did not answer at {context.rest_uri}: {error}"
        ) from None
