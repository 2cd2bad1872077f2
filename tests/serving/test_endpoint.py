"""What a package's endpoint answers: every documented request shape, for every kind, through
the package's own ``code/inference.py`` in front of the strict TF Serving stand-in — and what
TF Serving alone refuses of the same requests."""

from __future__ import annotations

import csv
import io
import json

import pytest

pytest.importorskip("tensorflow")

from music_recsys.core.evaluation import rank_targets  # noqa: E402
from music_recsys.core.protocol import EvaluationParams  # noqa: E402
from music_recsys.serving.local import LocalEndpoint  # noqa: E402
from tests.shared import random_queries, write_package  # noqa: E402

# One variant of every kind (the other variants differ inside the model, not at its door).
KINDS = ("most_popular", "cooccurrence", "sequential_rules", "in_out", "knn_idf", "ials", "blend")
K = 5  # the fitted variants weigh their queries by their own recency
PREDICT = "/v1/models/model:predict"


@pytest.fixture(scope="module")
def endpoints(fitted_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("packages")
    opened = {
        kind: LocalEndpoint(write_package(fitted_models[kind], folder / f"{kind}.tar.gz", K).root)
        for kind in KINDS
    }
    yield opened
    for endpoint in opened.values():
        endpoint.close()


PLAYLISTS = [list(q) for q in random_queries(8, seed=3)["query"]]  # lengths 1 to 5, unknown ids


def evaluated(recommender, playlists: list[list[str]]) -> list[list[str]]:
    """The evaluation code's top K for each playlist (what the package must answer)."""
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame({"playlist_id": range(len(playlists)), "query": playlists, "target": "x"})
    top = rank_targets(
        recommender,
        frame,
        EvaluationParams(k=(K,), selection_metric=f"hit_rate_at_{K}"),
    ).top
    return [recommender.index.track_ids[row[row >= 0]].tolist() for row in top]


def answered(response) -> list[list[str]]:
    assert response.status == 200, response.text
    assert response.content_type.startswith("application/json")
    body = response.json()
    if "outputs" in body:
        return [[t for t in row if t] for row in body["outputs"]["track_ids"]]
    return [[t for t in p["track_ids"] if t] for p in body["predictions"]]


def csv_text(playlists: list[list[str]]) -> str:
    lines = io.StringIO()
    csv.writer(lines, lineterminator="\r\n").writerows(playlists)
    return lines.getvalue()


SHAPES = {
    # name: (body, content type), for PLAYLISTS; each must answer as the evaluation ranks
    "rows of any lengths": (lambda p: {"instances": p}, "application/json"),
    "named objects": (
        lambda p: {"instances": [{"seed_track_ids": s} for s in p]},
        "application/json",
    ),
    "a bare list of playlists": (lambda p: p, "application/json"),
    "JSON lines": (lambda p: "\n".join(json.dumps(s) for s in p), "application/jsonlines"),
    "JSON lines as application/jsons": (
        lambda p: "\n".join(json.dumps(s) for s in p) + "\n",
        "application/jsons",
    ),
    "JSON lines sent as application/json": (
        lambda p: "\n".join(json.dumps(s) for s in p),
        "application/json",
    ),
    "CSV": (csv_text, "text/csv"),
    "CSV, lines ended by \\n": (lambda p: csv_text(p).replace("\r\n", "\n"), "text/csv"),
    "columnar inputs": (lambda p: {"inputs": {"seed_track_ids": p}}, "application/json"),
    "columnar inputs, bare": (lambda p: {"inputs": p}, "application/json"),
    "nulls and numbers among the seeds": (
        lambda p: {"instances": [[None, *s, 404, None] for s in p]},
        "application/json",
    ),
    "a content type with parameters": (
        lambda p: {"instances": p},
        "application/json; charset=utf-8",
    ),
    "no content type (the container's default: JSON)": (lambda p: {"instances": p}, None),
    "the signature named": (
        lambda p: {"signature_name": "serving_default", "instances": p},
        "application/json",
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_request_shape_answers_as_the_evaluation_ranks(endpoints, fitted_models, kind, shape):
    """Each shape answers as ``{"instances": ...}`` does (the first shape), which is what the
    evaluation ranks. The handler's shapes are checked here, once, and not by the deployment's
    package check, which checks what depends on the model (parity, the smoke request)."""
    body, content_type = SHAPES[shape]
    expected = evaluated(fitted_models[kind], PLAYLISTS)
    assert answered(endpoints[kind].invoke(body(PLAYLISTS), content_type)) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_single_playlists_empty_playlists_and_zero_instances(endpoints, fitted_models, kind):
    endpoint, recommender = endpoints[kind], fitted_models[kind]
    one = PLAYLISTS[3]
    expected = evaluated(recommender, [one])
    assert answered(endpoint.invoke(one)) == expected  # a bare list of seeds: one playlist
    assert answered(endpoint.invoke(json.dumps(one[0]))) == evaluated(recommender, [one[:1]])
    assert answered(endpoint.invoke({"instances": [{"seed_track_ids": one[0]}]})) == evaluated(
        recommender, [one[:1]]
    )
    popular = recommender.index.track_ids[:K].tolist()
    for empty in ({"instances": [[]]}, {"instances": [[], []]}, [], {"instances": [[None]]}):
        assert all(row == popular for row in answered(endpoint.invoke(empty)))
    assert endpoint.invoke({"instances": []}).json() == {"predictions": []}
    assert endpoint.invoke({"inputs": []}).json() == {"outputs": {"track_ids": [], "scores": []}}
    # A number seed of any length is its text: an id no catalog holds, never a 500.
    huge = '{"instances": [[' + json.dumps(one[0]) + ", " + "9" * 100_000 + "]]}"
    assert answered(endpoint.invoke(huge)) == evaluated(recommender, [one[:1]])


@pytest.mark.parametrize("kind", KINDS)
def test_scores_are_the_evaluated_scores(endpoints, fitted_models, kind):
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    recommender = fitted_models[kind]
    frame = pd.DataFrame({"playlist_id": range(len(PLAYLISTS)), "query": PLAYLISTS, "target": "x"})
    ranked = rank_targets(
        recommender,
        frame,
        EvaluationParams(k=(K,), selection_metric=f"hit_rate_at_{K}"),
    )
    answer = endpoints[kind].predict({"instances": PLAYLISTS})["predictions"]
    for row, scores, prediction in zip(ranked.top, ranked.scores, answer, strict=True):
        np.testing.assert_allclose(
            prediction["scores"][: (row >= 0).sum()], scores[row >= 0], rtol=1e-5
        )


# --- the requests of the table: TF Serving alone refuses them, the package answers them ----

TABLE = {
    "two playlists, different lengths": {"instances": [["A1|||t1", "A2|||t2", "A3|||t3"], ["A4|||t4"]]},
    "named objects, different lengths": {
        "instances": [{"seed_track_ids": ["A1|||t1", "A2|||t2"]}, {"seed_track_ids": ["A3|||t3"]}]
    },
    "a bare list": [["A1|||t1", "A2|||t2"], ["A3|||t3"]],
    "a null seed": {"instances": [["A1|||t1", None]]},
    "zero instances": {"instances": []},
}  # fmt: skip


@pytest.mark.parametrize("request_name", TABLE)
def test_tf_serving_alone_refuses_what_the_handler_answers(endpoints, request_name):
    endpoint = endpoints["cooccurrence"]
    status, answer = endpoint.tf_serving.handle(
        "POST", PREDICT, json.dumps(TABLE[request_name]).encode()
    )
    assert status == 400 and set(answer) == {"error"}
    assert endpoint.invoke(TABLE[request_name]).status == 200


def test_tf_serving_alone_answers_a_rectangular_request_as_the_handler_does(endpoints):
    endpoint = endpoints["knn_idf"]
    body = {"instances": [["A1|||t1", ""], ["A4|||t4", "A2|||t2"]]}
    status, answer = endpoint.tf_serving.handle("POST", PREDICT, json.dumps(body).encode())
    assert status == 200
    assert answer == endpoint.predict({"instances": [["A1|||t1"], ["A4|||t4", "A2|||t2"]]})
    status, columns = endpoint.tf_serving.handle(
        "POST", PREDICT, json.dumps({"inputs": body["instances"]}).encode()
    )
    assert status == 200 and set(columns["outputs"]) == {"track_ids", "scores"}


def test_tf_serving_routes(endpoints):
    tf_serving = endpoints["cooccurrence"].tf_serving
    assert (
        tf_serving.handle("GET", "/v1/models/model")[1]["model_version_status"][0]["state"]
        == "AVAILABLE"
    )
    assert tf_serving.handle("POST", "/v1/models/other:predict", b"{}")[0] == 404
    assert tf_serving.handle("POST", "/v1/models/model/versions/2:predict", b"{}")[0] == 404
    assert (
        tf_serving.handle("POST", "/v1/models/model/versions/1:predict", b'{"instances": [["a"]]}')[
            0
        ]
        == 200
    )
    assert (
        tf_serving.handle("POST", "/v1/models/model:classify", b'{"instances": [["a"]]}')[0] == 400
    )
    status, answer = tf_serving.handle(
        "POST", PREDICT, b'{"signature_name": "nope", "instances": [["a"]]}'
    )
    assert status == 400 and "not found in signature def" in answer["error"]
    status, answer = tf_serving.handle("POST", PREDICT, b'{"instances": ["a", "b"]}')  # rank 1
    assert status == 400 and answer["error"]


# --- what the handler refuses, and how ---------------------------------------------------------------

REFUSED = [
    # (body, content type, status, substring of the error)
    ("{bad", "application/json", 400, "The body is not JSON"),
    ("", "application/json", 400, "The body is empty"),
    (b'{"instances": [["\xff"]]}', "application/json", 400, "not UTF-8: byte 0xff"),
    ({"instances": [["A1|||t1"]]}, "text/plain", 415, "Unsupported Media Type: text/plain"),
    ({"instances": [["A1|||t1"]]}, "application/x-www-form-urlencoded", 415, "Unsupported"),
    ({"instance": [["A1|||t1"]]}, "application/json", 400, "Missing 'instances' or 'inputs' key"),
    ({"instances": [["a"]], "inputs": [["a"]]}, "application/json", 400, "not both"),
    ({"instances": "A1|||t1"}, "application/json", 400, "'instances' is a string"),
    ({"instances": [None]}, "application/json", 400, "instance 0 is a null"),
    ({"instances": [[["nested"]]]}, "application/json", 400, "instance 0, seed 0 is a list"),
    ({"instances": [["a", {"x": 1}]]}, "application/json", 400, "instance 0, seed 1 is a JSON object"),
    ({"instances": [{"seed_track_ids": ["a"], "k": 3}]}, "application/json", 400, "its one key is 'seed_track_ids'"),
    ({"instances": [{"seeds": ["a"]}]}, "application/json", 400, "its one key"),
    ({"inputs": {"other": [["a"]]}}, "application/json", 400, "'inputs' has no 'seed_track_ids'"),
    ({"signature_name": 5, "instances": [["a"]]}, "application/json", 400, "'signature_name' must be a string"),
    ("42", "application/json", 400, "The body is a number"),
    ('["a"]\n{bad', "application/jsonlines", 400, "line 2 is not JSON"),
    ("[" * 100_000, "application/json", 400, "nested too deeply"),
    ('["a"]\n' + "[" * 100_000, "application/jsonlines", 400, "line 2 is nested too deeply"),
    ({"signature_name": "nope", "instances": [["a"]]}, "application/json", 400,
     'TensorFlow Serving: Serving signature name: "nope" not found in signature def'),
    ({"instances": [["A1|||t1"]] * 1001}, "application/json", 413, "1001 playlists in one request; at most 1000"),
    ({"instances": [["A1|||t1"] * 10_000]}, "application/json", 413, "instance 0 has 10000 seeds; at most 1000"),
    ("[" + '"x",' * 1_600_000 + '"x"]', "application/json", 413, "at most 6,291,456"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "status", "message"), REFUSED)
def test_what_the_handler_refuses_says_what_is_wrong(
    endpoints, body, content_type, status, message
):
    response = endpoints["most_popular"].invoke(body, content_type)
    assert response.status == status
    assert response.content_type.startswith("application/json")
    assert message in response.json()["error"]


def test_the_container_front_checks_custom_attributes_and_writes_errors_per_accept(endpoints):
    endpoint = endpoints["most_popular"]
    body = {"instances": [["A1|||t1"]]}
    header = "X-Amzn-SageMaker-Custom-Attributes"
    bad = endpoint.invoke(body, headers={header: "tfs-model-version=x"})
    assert bad.status == 400 and "invalid tfs-model-version" in bad.json()["error"]
    other = endpoint.invoke(body, headers={header: "tfs-model-name=other"})
    assert other.status == 404 and "Servable not found" in other.json()["error"]
    assert endpoint.invoke(body, headers={header: "tfs-model-version=1"}).status == 200
    # falcon writes an error's body as the client accepts it (so does the container's 3.1)
    assert endpoint.invoke("{bad", accept="*/*").json()["error"]
    assert endpoint.invoke("{bad", accept="text/csv").text == ""


@pytest.mark.integration
def test_the_smoke_request_of_a_demo_deployment_is_answered(demo_run):
    """The deployment's own smoke request (five validation playlists of their own lengths,
    under the continuation protocol) answered through the demo package's handler."""
    check = json.loads((demo_run / "data/09_deployment/serving_check.json").read_text())
    smoke = check["smoke_request"]
    assert len({len(s) for s in smoke["instances"]}) > 1  # ragged, as TF Serving would refuse
    with LocalEndpoint(demo_run / "data/09_deployment/model.tar.gz") as endpoint:
        assert endpoint.predict(smoke) == check["smoke_response"]
        status, _ = endpoint.tf_serving.handle("POST", PREDICT, json.dumps(smoke).encode())
    assert status == 400
