"""TensorFlow Serving's REST request and response rules, in plain Python (no TensorFlow).

Written from TF Serving 2.20.0's own source (tag ``2.20.0``, commit ``bc7e9d2b``):
``tensorflow_serving/util/json_tensor.cc`` (``FillPredictRequestFromJson``,
``MakeJsonFromTensors``) and the status mapping of ``model_servers/http_server.cc``. The error
texts are those of the C++ code (the JSON debug dumps are close, not byte-equal: RapidJSON's
``PrettyWriter`` is approximated). What it refuses, TF Serving refuses:

- the body must be one JSON object (trailing bytes after it are ignored, ``NaN`` and
  ``Infinity`` are accepted, as RapidJSON's flags there say), with exactly one of
  ``"instances"`` (row format) or ``"inputs"`` (columnar); other keys are ignored, and
  ``"signature_name"`` must be a string;
- ``"instances"`` must be a non-empty list, either all objects whose keys are exactly the
  signature's inputs, or (single-input signatures only) all plain values — never a mix;
- every instance must have the same shape: nothing is padded, a ragged request is an error;
- a string tensor takes only JSON strings or ``{"b64": "..."}`` (null, numbers, booleans and
  other objects are errors); numbers must fit the dtype (an int32 takes no ``1.0``);
- a row-format answer is ``{"predictions": [...]}`` (one object per instance, keyed by output,
  when the signature has several outputs); a columnar answer is ``{"outputs": ...}``;
- errors are ``{"error": "<message>"}`` with the HTTP status of the gRPC code (400 for an
  invalid argument).

TF Serving does not check a tensor's shape against the signature; the graph does when it runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any

# Status codes as http_server.cc's ToHTTPStatusCode maps them.
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}

_MAX_DEBUG_BYTES = 256  # kMaxJsonDebugStringBytes: error messages show at most this of a value
_INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
# TF Serving checks int8/int16/uint8 as IsInt() (int32), not their own range.
_JSON_INT_CHECK = {
    "int8": "int32",
    "int16": "int32",
    "uint8": "int32",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
}
DTYPES = ("string", "float", "double", "bool", *_INT_RANGES)


class TensorError(ValueError):
    """A request or answer TF Serving would refuse: ``code`` is its status code's name."""

    def __init__(self, message: str, code: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_json(self) -> dict:
        return {"error": str(self)}


@dataclass
class Tensor:
    """A dense tensor as TF Serving builds it from JSON: flat values (bytes for strings) and
    a shape."""

    dtype: str
    shape: list[int] = field(default_factory=list)
    values: list = field(default_factory=list)


@dataclass
class PredictRequest:
    """What :func:`parse_predict_request` found: the format, the signature's name (``""``:
    the default) and one tensor per input."""

    row_format: bool
    signature_name: str
    tensors: dict[str, Tensor]


# --- debug dumps and type names, as json_tensor.cc writes them ----------------------------------


def _dump(value: Any, indent: int = 0) -> str:
    """RapidJSON's PrettyWriter with single-line arrays: ``[1, 2]``, objects indented by 4."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = " " * (indent + 4)
        items = [f"{pad}{json.dumps(k)}: {_dump(v, indent + 4)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v, indent) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value, ensure_ascii=False)


def debug_string(value: Any) -> str:
    text = _dump(value)
    encoded = text.encode("utf-8")
    return (
        encoded[:_MAX_DEBUG_BYTES].decode("utf-8", "ignore")
        if len(encoded) > _MAX_DEBUG_BYTES
        else text
    )


def json_type(value: Any) -> str:
    """RapidJSON's type name (``JsonTypeString``): ``Null``, ``True``, ``Object``, …"""
    if value is None or isinstance(value, bool):
        return str(value).replace("None", "Null")
    names = {dict: "Object", list: "Array", str: "String"}
    return names.get(type(value), "Number")


def _format_error(value: Any, message: str) -> TensorError:
    return TensorError(f"JSON Value: {debug_string(value)} {message}")


def _type_error(value: Any, dtype: str) -> TensorError:
    return TensorError(
        f"JSON Value: {debug_string(value)} Type: {json_type(value)} "
        f"is not of expected type: {dtype}"
    )


# --- parsing ---------------------------------------------------------------------------------------


def parse_json(body: bytes | str) -> Any:
    """The body's JSON value, with RapidJSON's flags: leading whitespace skipped, the root
    value parsed, anything after it ignored (``kParseStopWhenDoneFlag``), ``NaN`` and
    ``Infinity`` accepted (``kParseNanAndInfFlag``)."""
    text = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else body
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise TensorError("JSON Parse error: The document is empty")
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise TensorError(f"JSON Parse error: {error.msg}. at offset: {error.pos}") from None
    except RecursionError:  # RapidJSON parses iteratively; Python's parser has a depth limit
        raise TensorError("JSON Parse error: nested too deeply (the stand-in's limit)") from None
    return value


def _is_b64(value: Any) -> bool:
    """``IsValBase64Object``: an object with the one key ``b64`` holding a string."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and "b64" in value
        and isinstance(value["b64"], str)
    )


def _scalar(value: Any, dtype: str) -> Any:
    """``AddValueToTensor``: one JSON leaf as a value of ``dtype``."""
    if dtype == "string":
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        if isinstance(value, dict):
            if not _is_b64(value):
                raise _format_error(value, "not formatted correctly for base64 data")
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise TensorError("Unable to base64 decode") from None
        raise _type_error(value, dtype)
    if dtype in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(value, dtype)
        return float(value)
    if dtype == "bool":
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[_JSON_INT_CHECK[dtype]]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _type_error(value, dtype)
        return value
    raise TensorError(
        f"Conversion of JSON Value: {debug_string(value)} to type: {dtype}", "UNIMPLEMENTED"
    )


def _dense_shape(value: Any) -> list[int]:
    """``GetDenseTensorShape``: the shape read off the first element at each level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, shape: list[int], dtype: str, level: int, out: list) -> None:
    """``FillTensorProto``: the leaves of ``value`` in order, checking it is dense."""
    if not isinstance(value, list):
        if level != len(shape):
            raise _format_error(
                value,
                f"found at incorrect level: {level + 1} in the JSON DOM. Expected at level: "
                f"{len(shape)}",
            )
        out.append(_scalar(value, dtype))
        return
    if level >= len(shape):
        raise TensorError(f"Encountered list at unexpected level: {level} expected < {len(shape)}")
    if len(value) != shape[level]:
        raise TensorError(
            f"Encountered list at unexpected size: {len(value)} at level: {level} expected "
            f"size: {shape[level]}"
        )
    for item in value:
        _fill(item, shape, dtype, level + 1, out)


def _tensor(value: Any, dtype: str) -> Tensor:
    shape = _dense_shape(value)
    values: list = []
    _fill(value, shape, dtype, 0, values)
    return Tensor(dtype, shape, values)


def _shape_text(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


@dataclass
class _Stack:
    """The instances of one input so far: the first one's size and shape, every value."""

    dtype: str
    shape: list[int]
    size: int
    count: int = 0
    values: list = field(default_factory=list)


def _add_instance(stacks: dict[str, _Stack], name: str, value: Any, dtype: str) -> None:
    """``AddInstanceItem``: one instance's value for input ``name``, which must have the size
    and then the shape of the first instance's."""
    item = _tensor(value, dtype)
    stack = stacks.setdefault(name, _Stack(dtype, item.shape, len(item.values)))
    if len(item.values) != stack.size:
        raise TensorError(f"Expecting tensor size: {stack.size} but got: {len(item.values)}")
    if item.shape != stack.shape:
        raise TensorError(
            f"Expecting shape {_shape_text(stack.shape)} but got: {_shape_text(item.shape)}"
        )
    stack.values.extend(item.values)
    stack.count += 1


def _instances(instances: list, inputs: dict[str, str]) -> dict[str, Tensor]:
    """``FillTensorMapFromInstancesList``."""
    first = instances[0]
    if len(inputs) > 1 and not isinstance(first, dict):
        raise TensorError(
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map"
        )
    objects = isinstance(first, dict) and not _is_b64(first)
    stacks: dict[str, _Stack] = {}
    for i, instance in enumerate(instances):
        if objects:
            if not isinstance(instance, dict):
                raise TensorError(f"Expecting object but got list at item {i} of input list")
            for key, value in instance.items():
                try:
                    if key not in inputs:
                        raise TensorError(f"JSON object: does not have named input: {key}")
                    _add_instance(stacks, key, value, inputs[key])
                except TensorError as error:
                    raise TensorError(
                        f"Failed to process element: {i} key: {key} of 'instances' list. "
                        f"Error: {error.code}: {error}"
                    ) from None
            if len(instance) != len(inputs):
                raise TensorError(
                    f"Failed to process element: {i} of 'instances' list. JSON object: "
                    f"{debug_string(instance)} keys must be equal to: {','.join(sorted(inputs))}"
                )
        else:
            if isinstance(instance, dict) and not _is_b64(instance):
                raise TensorError(f"Expecting value/list but got object at item {i} of input list")
            ((name, dtype),) = inputs.items()
            try:
                _add_instance(stacks, name, instance, dtype)
            except TensorError as error:
                raise TensorError(
                    f"Failed to process element: {i} of 'instances' list. Error: "
                    f"{error.code}: {error}"
                ) from None
    return {
        name: Tensor(stack.dtype, [stack.count, *stack.shape], stack.values)
        for name, stack in stacks.items()
    }


def _columnar(value: Any, inputs: dict[str, str]) -> dict[str, Tensor]:
    """``FillTensorMapFromInputsMap``: extra keys of an ``inputs`` object are ignored."""
    if not isinstance(value, dict) or _is_b64(value):
        if len(inputs) > 1:
            raise TensorError(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        ((name, dtype),) = inputs.items()
        return {name: _tensor(value, dtype)}
    tensors = {}
    for name, dtype in inputs.items():
        if name not in value:
            raise TensorError(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = _tensor(value[name], dtype)
    return tensors


def parse_predict_request(body: bytes | str, inputs: dict[str, str]) -> PredictRequest:
    """A predict request's tensors for a signature with these ``inputs`` (name → dtype, one
    of :data:`DTYPES`), as ``FillPredictRequestFromJson`` builds them.

    Raises:
        TensorError: Whatever TF Serving refuses (see the module doc), with its message.
    """
    document = parse_json(body)
    if not isinstance(document, dict):
        raise _format_error(document, "Is not object")
    signature_name = document.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise _format_error(
            document, "not formatted correctly. 'signature_name' key must be a string value."
        )
    if "instances" in document and "inputs" in document:
        raise _format_error(
            document,
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
        )
    if "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise _format_error(document, "Expecting 'instances' to be an list/array")
        if not instances:
            raise _format_error(document, "No values in 'instances' array")
        return PredictRequest(True, signature_name, _instances(instances, inputs))
    if "inputs" in document:
        return PredictRequest(False, signature_name, _columnar(document["inputs"], inputs))
    raise TensorError("Missing 'inputs' or 'instances' key")


# --- answers ---------------------------------------------------------------------------------------


def _nested(values: list, shape: list[int]) -> Any:
    if not shape:
        return values[0]
    if len(shape) == 1:
        return list(values)
    step = len(values) // shape[0] if shape[0] else 0
    return [_nested(values[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _json_values(name: str, tensor: Tensor) -> list:
    """Strings as text (``{"b64": …}`` for an output named ``*_bytes``, as json_tensor.cc
    does), float32 as its shortest text (TF Serving writes ``0.3``, not ``0.30000001…``)."""
    if tensor.dtype == "string":
        if name.endswith("_bytes"):
            return [{"b64": base64.b64encode(v).decode("ascii")} for v in tensor.values]
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in tensor.values]
    if tensor.dtype == "float":
        return [_float32_text(v) for v in tensor.values]
    return list(tensor.values)


def _float32_text(value: float) -> float:
    """The float whose shortest decimal text is float32 ``value``'s, so that ``json.dumps``
    writes what TF Serving writes."""
    import numpy as np  # noqa: PLC0415 - only for answers

    number = np.float32(value)
    return float(str(number)) if np.isfinite(number) else float(number)


def make_json_response(outputs: dict[str, Tensor], row_format: bool) -> dict:
    """``MakeJsonFromTensors``: ``{"predictions": [...]}`` (row format) or ``{"outputs": ...}``."""
    if not outputs:
        raise TensorError("Cannot convert empty tensor map to JSON")
    if not row_format:
        columns = {name: _nested(_json_values(name, t), t.shape) for name, t in outputs.items()}
        return {"outputs": next(iter(columns.values())) if len(columns) == 1 else columns}
    batch = None
    rows: dict[str, list] = {}
    for name, tensor in outputs.items():
        if not tensor.shape:
            raise TensorError(f"Tensor name: {name} has no shape information ")
        if batch is None:
            batch = tensor.shape[0]
        elif tensor.shape[0] != batch:
            raise TensorError(
                f"Tensor name: {name} has inconsistent batch size: {tensor.shape[0]} "
                f"expecting: {batch}"
            )
        values = _json_values(name, tensor)
        step = len(values) // batch if batch else 0
        rows[name] = [
            _nested(values[i * step : (i + 1) * step], tensor.shape[1:]) for i in range(batch)
        ]
    if len(rows) == 1:
        return {"predictions": next(iter(rows.values()))}
    return {"predictions": [{name: rows[name][i] for name in rows} for i in range(batch or 0)]}
