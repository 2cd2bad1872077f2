"""SageMaker Batch Transform of the package, against a moto server on localhost (no AWS account
needed). moto creates and describes transform jobs but runs none: the tests script what
``describe_transform_job`` reports and put the job's output into S3 themselves, as the
container would answer (one JSON line per input line, an empty line between two requests)."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pandas as pd
import pytest

from music_recsys import duckdb_sql
from music_recsys.core.protocol import EvaluationParams
from music_recsys.datasets.sagemaker_batch_transform import (
    BatchTransformError,
    BatchTransformRequest,
    SageMakerBatchTransformDataset,
    container_limits,
    input_lines,
)
from music_recsys.pipelines.data_processing.params import CleaningParams
from music_recsys.pipelines.deployment.nodes import (
    batch_transform_request,
    request_batch_transform,
)
from music_recsys.pipelines.deployment.params import DeploymentParams
from music_recsys.serving.batch import COLUMNS
from music_recsys.serving.package import ModelArchive
from tests.pipelines.deployment.conftest import CREDENTIALS, fresh_clients
from tests.pipelines.deployment.conftest import SETTINGS as SHARED_SETTINGS

GPU_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.20-gpu-py312"
SETTINGS = SHARED_SETTINGS | {"enabled": False}  # the endpoint is not deployed
TRANSFORM = {
    "instance_type": "ml.g4dn.xlarge", "instance_count": 2, "max_payload_mb": 1,
    "max_concurrent_transforms": 4, "max_wait_seconds": 3600, "poll_seconds": 0,
}  # fmt: skip
CATALOG = ["A|||a", "B|||b", "C|||c"]
PLAYLISTS = pd.DataFrame(
    {
        "playlist_id": [3, 7, 12],
        "seeds": [["A|||a", "B|||b"], ["nobody|||nothing"], ["C|||c", "Ünï|||cödé", "A|||a"]],
    }
)
JOB = "music-recsys-batch-v1"
OUTPUT_KEY = "music-recsys/v1/batch/output/playlists.jsonl.out"


def answer(seeds: list[str]) -> dict:
    """What the fake container answers a playlist: a track of its first seed's artist, another,
    then padding (the package pads to k with "")."""
    artist = seeds[0].split("|||")[0]
    return {"track_ids": [f"{artist}|||top", "Next|||x", ""], "scores": [2.5, 1.0, 0.0]}


def container_output(input_body: bytes, per_request: int = 2) -> bytes:
    """The job's output for its input, as AssembleWith: Line joins the requests' answers."""
    lines = [json.loads(line) for line in input_body.decode("utf-8").splitlines()]
    requests = [lines[i : i + per_request] for i in range(0, len(lines), per_request)]
    return "\n".join(
        "".join(json.dumps(answer(s)) + "\n" for s in request) for request in requests
    ).encode("utf-8")


@pytest.fixture
def aws(moto_url, monkeypatch):
    """Clients on the moto server and a fresh bucket; the dataset's clients record every call,
    report the scripted statuses, write the scripted output when the job completes, and stand
    in for stop_transform_job (which moto lacks)."""
    s3, sagemaker = fresh_clients(moto_url, monkeypatch)
    state = {
        "calls": [],
        "statuses": ["InProgress", "Completed"],
        "failure_reason": None,
        "output": container_output,
        "describe_error": None,
        "stopped": [],
    }
    original = SageMakerBatchTransformDataset._clients

    def clients(self, region):
        s3_client, sagemaker_client = original(self, region)
        for client in (s3_client, sagemaker_client):
            client.meta.events.register(
                "before-parameter-build.*.*",
                lambda params, model, **_: state["calls"].append((model.name, dict(params))),
            )
        describe = sagemaker_client.describe_transform_job

        def describe_transform_job(TransformJobName):  # noqa: N803 - boto3's names
            if state["describe_error"]:
                raise state["describe_error"]
            description = describe(TransformJobName=TransformJobName)
            status = (
                state["statuses"].pop(0) if len(state["statuses"]) > 1 else state["statuses"][0]
            )
            description["TransformJobStatus"] = status
            if status == "Failed":
                description["FailureReason"] = state["failure_reason"]
            if status == "Completed" and state["output"] is not None:
                source = description["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
                bucket, _, key = source.removeprefix("s3://").partition("/")
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                s3.put_object(Bucket="models", Key=OUTPUT_KEY, Body=state["output"](body))
            return description

        def stop_transform_job(TransformJobName):  # noqa: N803
            state["stopped"].append(TransformJobName)

        sagemaker_client.describe_transform_job = describe_transform_job
        sagemaker_client.stop_transform_job = stop_transform_job
        return s3_client, sagemaker_client

    monkeypatch.setattr(SageMakerBatchTransformDataset, "_clients", clients)
    return {"s3": s3, "sagemaker": sagemaker, "state": state, "url": moto_url}


def dataset(aws, tmp_path) -> SageMakerBatchTransformDataset:
    return SageMakerBatchTransformDataset(
        str(tmp_path / "recommendations.parquet"),
        str(tmp_path / "record.json"),
        credentials=CREDENTIALS,
        endpoint_url=aws["url"],
        poll_seconds=0,
    )


@pytest.fixture
def archive(tmp_path):
    """A small model.tar.gz with what the dataset and node read: metadata.json, catalog.txt."""
    path = tmp_path / "model.tar.gz"
    metadata = {
        "k": 3,
        "serving": {"max_body_bytes": 6 * 2**20, "max_instances": 1000, "max_seeds": 5},
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (
            ("metadata.json", json.dumps(metadata)),
            ("catalog.txt", "\n".join(CATALOG) + "\n"),
        ):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def request(archive, transform=TRANSFORM, playlists=PLAYLISTS, **changes) -> BatchTransformRequest:
    return BatchTransformRequest(
        archive=archive,
        playlists=playlists,
        fell_back=[False, True, False],
        settings=SETTINGS | changes,
        transform=transform,
        label="v1",
    )


def record(tmp_path) -> dict:
    return json.loads((tmp_path / "record.json").read_text())


def operations(aws) -> list[str]:
    return [name for name, _ in aws["state"]["calls"]]


def test_a_job_scores_every_playlist_and_its_output_is_read_back_in_order(aws, archive, tmp_path):
    transform = dataset(aws, tmp_path)
    transform.save(request(archive))
    assert operations(aws) == [
        "PutObject", "PutObject", "CreateModel", "CreateTransformJob",
        "DescribeTransformJob", "DescribeTransformJob", "GetObject", "DeleteModel",
    ]  # fmt: skip
    calls = dict(aws["state"]["calls"])
    assert calls["CreateModel"]["PrimaryContainer"] == {
        "Image": GPU_IMAGE,  # the endpoint's lookup, for the job's instance type
        "ModelDataUrl": "s3://models/music-recsys/v1/batch/model.tar.gz",
    }
    job = calls["CreateTransformJob"]
    assert job["TransformJobName"] == JOB and job["ModelName"] == JOB
    assert job["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": "s3://models/music-recsys/v1/batch/input/playlists.jsonl",
            }
        },
        "ContentType": "application/jsonlines",
        "SplitType": "Line",
    }
    assert job["TransformOutput"] == {
        "S3OutputPath": "s3://models/music-recsys/v1/batch/output",
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
    }
    assert job["BatchStrategy"] == "MultiRecord" and job["MaxPayloadInMB"] == 1
    assert job["TransformResources"] == {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 2}
    assert job["MaxConcurrentTransforms"] == 4
    # the handler may take as many lines as 1 MB holds, and a 1 MB body (the package: 6 MB)
    assert job["Environment"] == {
        "MUSIC_RECSYS_MAX_INSTANCES": "1000",
        "MUSIC_RECSYS_MAX_BODY_BYTES": str(6 * 2**20),
    }
    uploaded = (
        aws["s3"]
        .get_object(Bucket="models", Key="music-recsys/v1/batch/input/playlists.jsonl")["Body"]
        .read()
    )
    assert [json.loads(line) for line in uploaded.decode("utf-8").splitlines()] == list(
        PLAYLISTS["seeds"]
    )
    assert aws["sagemaker"].list_models()["Models"] == []  # the job's model is gone

    expected = pd.DataFrame(
        [
            (pid, rank, track, track.split("|||")[0], track.split("|||")[1], score, fallback)
            for pid, seeds, fallback in zip(
                [3, 7, 12], PLAYLISTS["seeds"], [False, True, False], strict=True
            )
            for rank, (track, score) in enumerate(
                [(f"{seeds[0].split('|||')[0]}|||top", 2.5), ("Next|||x", 1.0)], start=1
            )
        ],
        columns=list(COLUMNS),
    ).astype({"rank": np.int32, "score": np.float32})
    pd.testing.assert_frame_equal(transform.load(), expected)
    written = record(tmp_path)
    assert written["ran"] is True and written["status"] == "Completed"
    assert written["job_name"] == JOB and written["model_deleted"] is True
    assert written["input"] == "s3://models/music-recsys/v1/batch/input/playlists.jsonl"
    assert written["output"] == f"s3://models/{OUTPUT_KEY}"
    assert written["rows_written"] == 6 and written["seconds"] >= 0


def test_the_handler_is_told_how_many_lines_one_request_may_bring(aws, archive, tmp_path):
    """Short lines: more of them fit in 1 MB than the package's max_instances (1000)."""
    short = pd.DataFrame({"playlist_id": range(2000), "seeds": [["A|||a"]] * 2000})
    req = request(archive, playlists=short, image_uri="my-image")
    req.fell_back = None
    dataset(aws, tmp_path).save(req)
    calls = dict(aws["state"]["calls"])
    assert calls["CreateTransformJob"]["Environment"]["MUSIC_RECSYS_MAX_INSTANCES"] == "2000"
    assert calls["CreateModel"]["PrimaryContainer"]["Image"] == "my-image"
    assert record(tmp_path)["rows_written"] == 2 * 2000
    assert not dataset(aws, tmp_path).load()["fallback"].any()


def test_at_most_the_shortest_lines_that_fill_max_payload_mb_come_in_one_request(archive):
    seeds = pd.Series([["A|||a"]] * 120_000 + [["B|||b"] * 5])
    lines = input_lines(seeds)
    assert len(lines[0]) == 10  # '["A|||a"]' and its newline
    environment = container_limits(archive, seeds, lines, {"max_payload_mb": 1})
    assert environment == {
        "MUSIC_RECSYS_MAX_INSTANCES": str(2**20 // 10),
        "MUSIC_RECSYS_MAX_BODY_BYTES": str(6 * 2**20),  # the package's, larger than 1 MB
    }
    assert container_limits(archive, seeds, lines, {"max_payload_mb": 8})[
        "MUSIC_RECSYS_MAX_BODY_BYTES"
    ] == str(8 * 2**20)


def test_an_output_without_one_line_per_playlist_is_refused(aws, archive, tmp_path):
    aws["state"]["output"] = lambda body: container_output(body).rsplit(b"\n", 2)[0] + b"\n"
    transform = dataset(aws, tmp_path)
    with pytest.raises(BatchTransformError) as error:
        transform.save(request(archive))
    message = str(error.value)
    assert "holds 2 answer lines for 3 playlists" in message
    assert f"s3://models/{OUTPUT_KEY}" in message and JOB in message
    assert not (tmp_path / "recommendations.parquet").exists()
    assert record(tmp_path)["error"] == "2 answers for 3 playlists"
    assert aws["sagemaker"].list_models()["Models"] == []


def test_a_failed_job_names_itself_and_its_reason_and_cleans_up(aws, archive, tmp_path):
    aws["state"]["statuses"] = ["InProgress", "Failed"]
    aws["state"]["failure_reason"] = "ClientError: 413 from the container"
    with pytest.raises(BatchTransformError) as error:
        dataset(aws, tmp_path).save(request(archive))
    message = str(error.value)
    assert f"job '{JOB}' Failed: ClientError: 413 from the container" in message
    assert f"SageMaker model '{JOB}' was deleted" in message
    assert "aws s3 rm --recursive s3://models/music-recsys/v1/batch/" in message
    assert "DeleteModel" in operations(aws) and "GetObject" not in operations(aws)
    assert aws["sagemaker"].list_models()["Models"] == []
    written = record(tmp_path)
    assert written["status"] == "Failed" and written["failure_reason"].startswith("ClientError")
    assert written["model_deleted"] is True
    assert not (tmp_path / "recommendations.parquet").exists()


def test_a_job_past_max_wait_seconds_is_stopped(aws, archive, tmp_path):
    aws["state"]["statuses"] = ["InProgress"]
    with pytest.raises(BatchTransformError) as error:
        dataset(aws, tmp_path).save(request(archive, transform=TRANSFORM | {"max_wait_seconds": 0}))
    assert aws["state"]["stopped"] == [JOB]
    message = str(error.value)
    assert "still InProgress after" in message and "max_wait_seconds: 0" in message
    assert "asked to stop" in message
    assert record(tmp_path)["stopped"] is True
    assert aws["sagemaker"].list_models()["Models"] == []


def test_an_error_while_the_job_runs_stops_it(aws, archive, tmp_path):
    aws["state"]["describe_error"] = ConnectionError("network down")
    with pytest.raises(BatchTransformError, match="network down.*asked to stop"):
        dataset(aws, tmp_path).save(request(archive))
    assert aws["state"]["stopped"] == [JOB]
    assert aws["sagemaker"].list_models()["Models"] == []


def test_an_interrupt_while_the_job_runs_stops_it_and_cleans_up(aws, archive, tmp_path):
    aws["state"]["describe_error"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        dataset(aws, tmp_path).save(request(archive))
    assert aws["state"]["stopped"] == [JOB]
    assert aws["sagemaker"].list_models()["Models"] == []
    written = record(tmp_path)
    assert written["ran"] is True and written["stopped"] is True
    assert written["model_deleted"] is True


def test_no_transform_uploads_nothing(aws, archive, tmp_path):
    dataset(aws, tmp_path).save(request(archive, transform=None))
    assert record(tmp_path) == {"ran": False, "reason": "deployment.batch_transform is null"}
    assert aws["s3"].list_objects_v2(Bucket="models").get("KeyCount", 0) == 0
    assert operations(aws) == []


@pytest.mark.parametrize("missing", ["region", "role_arn", "bucket"])
def test_missing_configuration_fails_before_anything_is_uploaded(aws, archive, tmp_path, missing):
    with pytest.raises(
        BatchTransformError, match=f"set deployment.sagemaker.{missing}.*Nothing was uploaded"
    ):
        dataset(aws, tmp_path).save(request(archive, **{missing: None}))
    assert aws["s3"].list_objects_v2(Bucket="models").get("KeyCount", 0) == 0


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        (["A|||a"] * 6, "6 seeds; the package answers at most 5"),
        (["x" * 1_100_000], "more than deployment.batch_transform.max_payload_mb"),
    ],
)
def test_playlists_the_job_would_refuse_fail_before_anything_is_uploaded(
    aws, archive, tmp_path, seeds, message
):
    playlists = pd.DataFrame({"playlist_id": [1], "seeds": [seeds]})
    with pytest.raises(BatchTransformError, match=f"{message}.*Nothing was uploaded"):
        dataset(aws, tmp_path).save(request(archive, playlists=playlists))
    assert operations(aws) == []


# --- the node -------------------------------------------------------------------------------------


class Untouchable:
    """A lazy table that must not be read."""

    def __getattr__(self, name):
        raise AssertionError(f"batch_input was read ({name}) with no transform to run")


def test_the_node_without_a_transform_reads_no_playlist(archive):
    made = request_batch_transform(
        ModelArchive(archive, {}),
        {},
        Untouchable(),
        CleaningParams(),
        DeploymentParams(),
        EvaluationParams(),
    )
    assert made.transform is None and made.playlists is None and made.fell_back is None


def test_the_request_flags_playlists_the_catalog_does_not_know(archive):
    deployment = DeploymentParams(sagemaker=SETTINGS, batch_transform={"instance_count": 2})
    made = batch_transform_request(ModelArchive(archive, {}), PLAYLISTS, deployment)
    assert made.fell_back == [False, True, False]
    assert made.transform["instance_count"] == 2 and made.settings["bucket"] == "models"
    assert made.archive == archive and made.playlists is PLAYLISTS


def test_the_node_asks_each_playlist_with_its_last_tracks(archive):
    rows = pd.DataFrame(
        {
            "playlist_id": [2, 2, 2, 1],
            "position": [2, 0, 1, 0],
            "track_id": ["A|||a", "nobody|||x", "B|||b", "nobody|||y"],
        }
    )
    deployment = DeploymentParams(sagemaker=SETTINGS, batch_transform={})
    made = request_batch_transform(
        ModelArchive(archive, {}),
        {},
        duckdb_sql.relation(rows),
        CleaningParams(),
        deployment,
        EvaluationParams(max_query_tracks=2),
    )
    assert made.playlists["playlist_id"].tolist() == [1, 2]
    assert [list(s) for s in made.playlists["seeds"]] == [["nobody|||y"], ["B|||b", "A|||a"]]
    assert made.fell_back == [True, False]
