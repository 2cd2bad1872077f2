"""TF Serving's REST rules, pinned with the cases of its own tests.

The cases named ``json_tensor_test.cc: <Test>`` are TF Serving 2.20.0's
``tensorflow_serving/util/json_tensor_test.cc`` (the input JSON, the expected tensor or error
substring), re-expressed here; the others pin the messages of ``json_tensor.cc`` itself for
what its tests leave out (empty instances, keys of object instances, null in a string tensor).
"""

from __future__ import annotations

import math

import pytest

from music_recsys.serving.json_tensor import (
    Tensor,
    TensorError,
    make_json_response,
    parse_json,
    parse_predict_request,
)

STRING = {"default": "string"}
INT32 = {"default": "int32"}


def nan_marked(value):
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def tensors(body: str, inputs: dict[str, str]) -> dict[str, tuple[list[int], list]]:
    request = parse_predict_request(body, inputs)
    return {name: (t.shape, t.values) for name, t in request.tensors.items()}


def refused(body: str, inputs: dict[str, str]) -> str:
    with pytest.raises(TensorError) as error:
        parse_predict_request(body, inputs)
    assert error.value.http_status == 400
    return str(error.value)


# --- accepted: json_tensor_test.cc ------------------------------------------------------------------

ACCEPTED = [
    # (test, inputs, body, {input: (shape, values)}, row format)
    ("SingleUnnamedTensor", INT32, '{"instances": [[1,2],[3,4],[5,6]]}',
     {"default": ([3, 2], [1, 2, 3, 4, 5, 6])}, True),
    ("MixedInputForFloatTensor", {"default": "float"},
     '{"instances": [1, 2.0, 3, 4, 5.003, 0.007, 0.0]}',
     {"default": ([7], [1.0, 2.0, 3.0, 4.0, 5.003, 0.007, 0.0])}, True),
    ("SingleUnnamedTensorBase64Scalars", STRING,
     '{"instances": [ { "b64" : "aGVsbG8=" }, { "b64": "d29ybGQ=" } ]}',
     {"default": ([2], [b"hello", b"world"])}, True),
    ("SingleUnnamedTensorBase64Lists", STRING,
     '{"instances": [ [{ "b64" : "aGVsbG8=" }], [{ "b64": "d29ybGQ=" }] ]}',
     {"default": ([2, 1], [b"hello", b"world"])}, True),
    ("SingleNamedTensorBase64", STRING,
     '{"instances": [ { "default": [ [{"b64":"aGVsbG8="}], [{"b64":"d29ybGQ="}] ] } ]}',
     {"default": ([1, 2, 1], [b"hello", b"world"])}, True),
    ("MultipleNamedTensor",
     {"int_tensor": "int32", "str_tensor": "string", "float_tensor": "float", "dbl_tensor": "double"},
     '{"instances":[{"int_tensor":[[1,2],[3,4],[5,6]],"str_tensor":["foo","bar"],'
     '"float_tensor":[1.0,NaN],"dbl_tensor":[NaN]},{"int_tensor":[[7,8],[9,0],[1,2]],'
     '"str_tensor":["baz","bat"],"float_tensor":[2.0,Infinity],"dbl_tensor":[2.0]}]}',
     {"int_tensor": ([2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]),
      "str_tensor": ([2, 2], [b"foo", b"bar", b"baz", b"bat"]),
      "float_tensor": ([2, 2], [1.0, math.nan, 2.0, math.inf]),
      "dbl_tensor": ([2, 1], [math.nan, 2.0])}, True),
    ("SingleUnnamedTensorColumnarFormat (object)", {"int_tensor": "int32"},
     '{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]]}}',
     {"int_tensor": ([1, 3, 2], [1, 2, 3, 4, 5, 6])}, False),
    ("SingleUnnamedTensorColumnarFormat (value)", {"int_tensor": "int32"},
     '{"inputs": [[[1,2],[3,4],[5,6]]]}',
     {"int_tensor": ([1, 3, 2], [1, 2, 3, 4, 5, 6])}, False),
    ("MultipleNamedTensorColumnarFormat",
     {"int_tensor": "int32", "str_tensor": "string", "bin_tensor": "string"},
     '{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]], "str_tensor": ["foo", "bar"], '
     '"bin_tensor": {"b64": "aGVsbG8="}}}',
     {"int_tensor": ([1, 3, 2], [1, 2, 3, 4, 5, 6]), "str_tensor": ([2], [b"foo", b"bar"]),
      "bin_tensor": ([], [b"hello"])}, False),
    ("TensorFromNonNullTerminatedBuffer (trailing bytes ignored)", INT32,
     '{"instances": [[1,2],[3,4],[5,6]]}X', {"default": ([3, 2], [1, 2, 3, 4, 5, 6])}, True),
    ("2-D strings", {"seed_track_ids": "string"}, '{"instances": [["a","b"],["c","d"]]}',
     {"seed_track_ids": ([2, 2], [b"a", b"b", b"c", b"d"])}, True),
    ("an empty playlist is a [1, 0] tensor", {"seed_track_ids": "string"},
     '{"instances": [[]]}', {"seed_track_ids": ([1, 0], [])}, True),
    ("b64 and plain strings mixed", STRING, '{"instances": [[{"b64":"aGVsbG8="}, "plain"]]}',
     {"default": ([1, 2], [b"hello", b"plain"])}, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inputs", "body", "expected", "row_format"),
    [case[1:] for case in ACCEPTED],
    ids=[case[0] for case in ACCEPTED],
)
def test_what_tf_serving_accepts(inputs, body, expected, row_format):
    request = parse_predict_request(body, inputs)
    assert request.row_format is row_format
    got = {name: (t.shape, t.values) for name, t in request.tensors.items()}
    assert got.keys() == expected.keys()
    for name, (shape, values) in expected.items():
        assert got[name][0] == shape
        assert [nan_marked(v) for v in got[name][1]] == [nan_marked(v) for v in values]


def test_signature_name_is_read_and_other_keys_ignored():
    request = parse_predict_request(
        '{"signature_name": "predict_images", "instances": [[1,2]], "nested": [[[]]]}', INT32
    )
    assert request.signature_name == "predict_images" and request.tensors["default"].shape == [1, 2]


# --- refused: json_tensor_test.cc and json_tensor.cc -------------------------------------------------

REFUSED = [
    # (what, inputs, body, substring of TF Serving's message)
    ("SingleUnnamedTensorErrors: empty body", INT32, "", "The document is empty"),
    ("SingleUnnamedTensorErrors: signature_name not a string", INT32,
     '{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}', "must be a string value"),
    ("SingleUnnamedTensorErrors: both keys", INT32,
     '{"instances": [[1,2],[3,4],[5,6,7]], "inputs": [[1,2],[3,4],[5,6,7]]}',
     "Not formatted correctly"),
    ("SingleUnnamedTensorErrors: ragged", INT32, '{"instances": [[1,2],[3,4],[5,6,7]]}',
     "Expecting tensor size"),
    ("SingleUnnamedTensorErrors: deeper element", INT32, '{"instances": [[1,2],[3,4],[[5,6]]]}',
     "Expecting shape"),
    ("SingleUnnamedTensorErrors: scalar then list", INT32, '{"instances": [1, [1]]}',
     "Expecting shape"),
    ("SingleUnnamedTensorErrors: mixed types", INT32, '{"instances": [[1,2],["a", "b"]]}',
     "not of expected type"),
    ("MultipleNamedTensorErrors: shape",
     {"int_tensor": "int32", "str_tensor": "string"},
     '{"instances": [{"int_tensor":[[1,2],[3,4],[5,6]],"str_tensor":["foo","bar"]},'
     '{"int_tensor":[[[7,8],[9,0],[1,2]]],"str_tensor":["baz","bat"]}]}', "Expecting shape"),
    ("MultipleNamedTensorErrors: size",
     {"int_tensor": "int32", "str_tensor": "string"},
     '{"instances": [{"int_tensor":[[1,2],[3,4],[5,6],[7,8]],"str_tensor":["foo","bar"]},'
     '{"int_tensor":[[7,8],[9,0],[1,2]],"str_tensor":["baz","bat"]}]}', "Expecting tensor size"),
    ("MultipleNamedTensorErrors: object then list",
     {"int_tensor": "int32", "str_tensor": "string"},
     '{"instances": [{"int_tensor":[[1,2]],"str_tensor":["foo"]}, [1, 20, 30], '
     '{"int_tensor":[[1,2]],"str_tensor":["foo"]}]}', "Expecting object but got list"),
    ("MultipleNamedTensorErrors: list then object", {"str_tensor": "string"},
     '{"instances": [ ["baz","bar"], {"str_tensor": ["baz","bat"]} ]}',
     "Expecting value/list but got object"),
    ("http_rest_api_handler_test: not JSON", INT32, "instances = [1, 2]",
     "JSON Parse error: "),
    ("http_rest_api_handler_test: strings for a float", {"default": "float"},
     '{ "instances": ["x", "y"] }', "not of expected type: float"),
    # json_tensor.cc's own messages for what its tests leave out
    ("a bare list", STRING, '[["a", "b"], ["c"]]', "Is not object"),
    ("zero instances", STRING, '{"instances": []}', "No values in 'instances' array"),
    ("ragged playlists", STRING, '{"instances": [["a", "b", "c"], ["d"]]}',
     "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
     "Expecting tensor size: 3 but got: 1"),
    ("ragged named playlists", {"seed_track_ids": "string"},
     '{"instances": [{"seed_track_ids": ["a", "b"]}, {"seed_track_ids": ["c"]}]}',
     "Failed to process element: 1 key: seed_track_ids of 'instances' list. Error: "
     "INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1"),
    ("null in a string tensor", STRING, '{"instances": [["a", null]]}',
     "JSON Value: null Type: Null is not of expected type: string"),
    ("a number in a string tensor", STRING, '{"instances": [["a", 5]]}',
     "JSON Value: 5 Type: Number is not of expected type: string"),
    ("a boolean in a string tensor", STRING, '{"instances": [[true]]}',
     "Type: True is not of expected type: string"),
    ("an object in a string list", STRING, '{"instances": [["a", {"k": 1}]]}',
     "not formatted correctly for base64 data"),
    ("bad base64", STRING, '{"instances": [[{"b64": "!!!"}]]}', "Unable to base64 decode"),
    ("an extra key", {"a": "string", "b": "int32"}, '{"instances": [{"a": "x", "b": 1, "c": 2}]}',
     "Failed to process element: 0 key: c of 'instances' list. Error: INVALID_ARGUMENT: "
     "JSON object: does not have named input: c"),
    ("a missing key", {"a": "string", "b": "int32"}, '{"instances": [{"a": "x"}]}',
     "keys must be equal to: a,b"),
    ("instances not a list", STRING, '{"instances": "a"}', "Expecting 'instances' to be an list/array"),
    ("neither key", STRING, '{"instance": [["a"]]}', "Missing 'inputs' or 'instances' key"),
    ("a missing columnar input", {"x": "string"}, '{"inputs": {"y": ["a"]}}',
     "Missing named input: x in 'inputs' object."),
    ("an int32 takes no 1.0", INT32, '{"instances": [1.0]}', "Type: Number is not of expected type: int32"),
    ("list too deep", STRING, '{"instances": [[["a"], "b"]]}', "found at incorrect level: 2"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inputs", "body", "message"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_what_tf_serving_refuses(inputs, body, message):
    assert message in refused(body, inputs)


def test_parse_json_reads_like_rapidjson():
    assert parse_json(' \n {"a": NaN} trailing') == {"a": pytest.approx(float("nan"), nan_ok=True)}
    with pytest.raises(TensorError, match="at offset: 0"):
        parse_json("instances = [1]")
    assert "Is not object" in refused('"a string"', STRING)


# --- answers: json_tensor_test.cc's FromJson* cases ----------------------------------------------------


def test_a_single_output_is_a_bare_value_per_instance():
    out = {"int_tensor": Tensor("int32", [2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2])}
    assert make_json_response(out, row_format=True) == {
        "predictions": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]
    }
    assert make_json_response(out, row_format=False) == {
        "outputs": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]
    }


def test_several_outputs_are_an_object_per_instance_or_per_column():
    out = {
        "str_tensor": Tensor("string", [2, 2], [b"foo", b"bar", b"baz", b"bat"]),
        "float_tensor": Tensor("float", [2, 1], [1.0, 2.0]),
        "str_tensor_bytes": Tensor("string", [2, 1], [b"hello", b"tf"]),
    }
    assert make_json_response(out, row_format=True) == {
        "predictions": [
            {"str_tensor": ["foo", "bar"], "float_tensor": [1.0], "str_tensor_bytes": [{"b64": "aGVsbG8="}]},
            {"str_tensor": ["baz", "bat"], "float_tensor": [2.0], "str_tensor_bytes": [{"b64": "dGY="}]},
        ]
    }  # fmt: skip
    assert make_json_response(out, row_format=False)["outputs"]["str_tensor"] == [
        ["foo", "bar"],
        ["baz", "bat"],
    ]


def test_answers_that_tf_serving_cannot_write():
    with pytest.raises(TensorError, match="inconsistent batch size: 1 expecting: 2"):
        make_json_response(
            {"a": Tensor("int32", [2, 3], [0] * 6), "b": Tensor("string", [1, 3], [b""] * 3)},
            row_format=True,
        )
    with pytest.raises(TensorError, match="has no shape information"):
        make_json_response({"a": Tensor("int32", [], [1]), "b": Tensor("int32", [], [1])}, True)
    zero = {"a": Tensor("int32", [0, 2], []), "b": Tensor("string", [0, 1, 2], [])}
    assert make_json_response(zero, row_format=True) == {"predictions": []}


def test_float32_is_written_as_its_shortest_text():
    import numpy as np  # noqa: PLC0415

    out = make_json_response({"s": Tensor("float", [1, 2], [float(np.float32(0.3)), 9e6])}, True)
    assert out == {"predictions": [[0.3, 9000000.0]]}
