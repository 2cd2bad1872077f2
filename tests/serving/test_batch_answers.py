"""JSON lines out: what the handler answers a request whose Accept header asks for
``application/jsonlines`` (as a SageMaker Batch Transform's ``TransformOutput.Accept`` does) —
one ``{"track_ids", "scores"}`` object per playlist, one a line — and the limits a container's
environment sets (a Batch Transform job raises them to what its payload holds)."""

from __future__ import annotations

import io
import json

import pytest

from music_recsys.serving import inference
from music_recsys.serving.container import Context

PLAYLISTS = [["A1|||t1", "A2|||t2"], ["nobody|||nothing"], [], ["A3|||t3"]]


def context(content_type: str, accept: str | None) -> Context:
    return Context(None, None, None, "http://tf-serving", None, None, None, content_type,
                   accept, None, 60)  # fmt: skip


@pytest.fixture
def fake_tf_serving(monkeypatch):
    """TF Serving's answers: for each (padded) row, its first seed ranked first. Records the
    requests it gets."""
    asked = []

    def predict(_context, body):
        asked.append(body)
        return [
            {"track_ids": [row[0] or "Top|||hit", ""], "scores": [1.5, 0.0]}
            for row in body["instances"]
        ]

    monkeypatch.setattr(inference, "_predict", predict)
    inference.limits.cache_clear()
    yield asked
    inference.limits.cache_clear()


def expected_answers(playlists: list[list[str]]) -> list[dict]:
    return [
        {"track_ids": [p[0] if p else "Top|||hit", ""], "scores": [1.5, 0.0]} for p in playlists
    ]


def json_lines(playlists: list[list[str]]) -> bytes:
    return "".join(json.dumps(p) + "\n" for p in playlists).encode()


@pytest.mark.parametrize("accept", ["application/jsonlines", "application/jsons",
                                    "application/jsonlines; charset=utf-8",
                                    "Application/JSONLines, application/json;q=0.5"])  # fmt: skip
def test_json_lines_are_answered_one_line_per_playlist_in_order(fake_tf_serving, accept):
    body, content_type = inference.handler(
        io.BytesIO(json_lines(PLAYLISTS)), context("application/jsonlines", accept)
    )
    assert content_type == "application/jsonlines"
    assert body.endswith("\n") and body.count("\n") == len(PLAYLISTS)
    assert [json.loads(line) for line in body.splitlines()] == expected_answers(PLAYLISTS)
    assert list(json.loads(body.splitlines()[0])) == ["track_ids", "scores"]


@pytest.mark.parametrize(
    ("request_body", "content_type"),
    [
        ({"instances": PLAYLISTS}, "application/json"),
        ({"inputs": {"seed_track_ids": PLAYLISTS}}, "application/json"),  # columnar too
        ("\n".join(",".join(p) for p in PLAYLISTS), "text/csv"),
    ],
)
def test_any_request_shape_is_answered_in_lines_when_asked(
    fake_tf_serving, request_body, content_type
):
    raw = request_body if isinstance(request_body, str) else json.dumps(request_body)
    body, answered_as = inference.handler(
        io.BytesIO(raw.encode()), context(content_type, "application/jsonlines")
    )
    assert answered_as == "application/jsonlines"
    lines = [json.loads(line) for line in body.splitlines()]
    # CSV has no empty playlist: a blank line is no row
    wanted = [p for p in PLAYLISTS if p or content_type != "text/csv"]
    assert lines == expected_answers(wanted)


@pytest.mark.parametrize(
    "accept",
    ["application/json", "*/*", None, "text/csv", "application/json, application/jsonlines"],
)
def test_otherwise_the_answer_is_json_as_before(fake_tf_serving, accept):
    body, content_type = inference.handler(
        io.BytesIO(json_lines(PLAYLISTS)), context("application/jsonlines", accept)
    )
    assert content_type == "application/json"
    assert json.loads(body) == {"predictions": expected_answers(PLAYLISTS)}


def test_zero_playlists_are_answered_with_no_line(fake_tf_serving):
    body, content_type = inference.handler(
        io.BytesIO(b"\n"), context("application/jsonlines", "application/jsonlines")
    )
    assert (body, content_type) == ("", "application/jsonlines")
    assert fake_tf_serving == []


def test_the_environment_sets_a_containers_limits(fake_tf_serving, monkeypatch):
    many = [["A1|||t1"]] * 1500
    with pytest.raises(inference.RequestError) as refused:
        inference.handler(io.BytesIO(json_lines(many)), context("application/jsonlines", None))
    assert "1500 playlists in one request; at most 1000" in refused.value.description
    monkeypatch.setenv("MUSIC_RECSYS_MAX_INSTANCES", "2000")
    monkeypatch.setenv("MUSIC_RECSYS_MAX_SEEDS", "not a number")  # ignored: the default stays
    inference.limits.cache_clear()
    assert inference.limits()["max_instances"] == 2000
    assert inference.limits()["max_seeds"] == inference.DEFAULT_LIMITS["max_seeds"]
    body, _ = inference.handler(
        io.BytesIO(json_lines(many)), context("application/jsonlines", "application/jsonlines")
    )
    assert len(body.splitlines()) == 1500
    # TF Serving is still asked rows_per_call playlists at a time
    assert {len(b["instances"]) for b in fake_tf_serving} == {64, 1500 % 64}


def test_through_the_container_front_and_a_real_package(fitted_models, tmp_path, monkeypatch):
    """The package's own handler behind the container's front and the TF Serving stand-in:
    a Batch Transform's request (JSON lines, Accept JSON lines) of more playlists than the
    package's max_instances, allowed by the job's environment, is answered line for line as
    the JSON request is."""
    pytest.importorskip("tensorflow")
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415 - TensorFlow
    from tests.shared import random_queries, write_package  # noqa: PLC0415

    playlists = [list(q) for q in random_queries(40, seed=5)["query"]] + [[]]
    monkeypatch.setenv("MUSIC_RECSYS_MAX_INSTANCES", "100")
    package = write_package(fitted_models["most_popular"], tmp_path / "model.tar.gz", 5,
                            max_instances=20)  # fmt: skip
    with LocalEndpoint(package.root) as endpoint:
        lines = endpoint.invoke(
            json_lines(playlists), "application/jsonlines", accept="application/jsonlines"
        )
        assert lines.status == 200, lines.text
        assert lines.content_type.startswith("application/jsonlines")
        rows = endpoint.predict({"instances": playlists})["predictions"]
    assert package.metadata["serving"]["max_instances"] == 20 < len(playlists)
    answers = [json.loads(line) for line in lines.text.splitlines()]
    assert len(answers) == len(playlists)
    assert answers == [{"track_ids": r["track_ids"], "scores": r["scores"]} for r in rows]


def test_a_batch_transform_reads_back_what_the_batch_pipeline_writes(fitted_models, tmp_path):
    """The whole Batch Transform round trip but the cloud: the job's input lines, sent in
    MultiRecord requests to the package's own handler (JSON lines in and out), the answers
    joined a line each and read back — the rows the batch pipeline ranks in-process."""
    pytest.importorskip("tensorflow")
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from music_recsys.datasets.sagemaker_batch_transform import input_lines, read_answers  # noqa: PLC0415
    from music_recsys.serving.batch import rank_playlists  # noqa: PLC0415
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415 - TensorFlow
    from tests.shared import random_queries, write_package  # noqa: PLC0415

    recommender = fitted_models["cooccurrence"]
    seeds = [list(q) for q in random_queries(30, seed=9)["query"]] + [["nobody|||x"]]
    playlists = pd.DataFrame({"playlist_id": range(100, 100 + len(seeds)), "seeds": seeds})
    expected = rank_playlists(recommender, playlists, k=5, budget_bytes=2**20)
    package = write_package(recommender, tmp_path / "model.tar.gz", 5)
    lines = input_lines(playlists["seeds"])
    with LocalEndpoint(package.root) as endpoint:
        output = b""
        for start in range(0, len(lines), 7):  # MultiRecord: several lines a request
            answer = endpoint.invoke(
                b"".join(lines[start : start + 7]),
                "application/jsonlines",
                accept="application/jsonlines",
            )
            assert answer.status == 200, answer.text
            output += answer.text.encode() + b"\n"  # AssembleWith: Line
    record = {"output": "s3://b/out", "job_name": "job"}
    back = read_answers(
        output, playlists, expected.groupby("playlist_id")["fallback"].first().tolist(), record
    )
    pd.testing.assert_frame_equal(back.drop(columns="score"), expected.drop(columns="score"))
    np.testing.assert_allclose(back["score"], expected["score"], rtol=1e-5)
