"""Deployment to SageMaker, against a moto server on localhost (no AWS account needed)."""

import json
import urllib.request

import pytest
from botocore.stub import Stubber

from music_recsys.datasets.sagemaker_endpoint import (
    DeploymentError,
    DeploymentRequest,
    SageMakerEndpointDataset,
)
from tests.pipelines.deployment.conftest import CREDENTIALS, REGION, SETTINGS, fresh_clients

IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.20-cpu-py312"


@pytest.fixture
def aws(moto_url, monkeypatch):
    """Clients on the moto server, a fresh bucket; moto lacks update_endpoint, so a stand-in
    (delete + create with the new configuration) records the calls the code makes."""
    s3, sagemaker = fresh_clients(moto_url, monkeypatch)
    updates = []
    original = SageMakerEndpointDataset._clients

    def clients(self, region):
        s3_client, sagemaker_client, runtime = original(self, region)

        def update_endpoint(EndpointName, EndpointConfigName):  # noqa: N803 - boto3's names
            updates.append((EndpointName, EndpointConfigName))
            sagemaker_client.delete_endpoint(EndpointName=EndpointName)
            sagemaker_client.create_endpoint(
                EndpointName=EndpointName, EndpointConfigName=EndpointConfigName
            )

        sagemaker_client.update_endpoint = update_endpoint
        return s3_client, sagemaker_client, runtime

    monkeypatch.setattr(SageMakerEndpointDataset, "_clients", clients)
    return {"s3": s3, "sagemaker": sagemaker, "updates": updates, "url": moto_url}


def dataset(aws, tmp_path) -> SageMakerEndpointDataset:
    return SageMakerEndpointDataset(
        str(tmp_path / "record.json"), credentials=CREDENTIALS, endpoint_url=aws["url"]
    )


SMOKE = {"instances": [["A|||a", "B|||b"], ["C|||c"]]}
ANSWER = {"predictions": [{"track_ids": ["X|||x"], "scores": [1.0]}] * 2}


def endpoint_answers(moto_url: str, *bodies: str) -> None:
    """What moto's endpoint answers to the next invocations (moto never runs a model; its
    own API queues the answers)."""
    results = [{"Body": body, "ContentType": "application/json"} for body in bodies]
    urllib.request.urlopen(  # noqa: S310 - the local moto server
        urllib.request.Request(
            f"{moto_url}/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps({"region": REGION, "results": results}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
    )


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"not really a model, but bytes to upload")
    return path


def test_deploy_uploads_the_package_and_creates_model_config_and_endpoint(aws, archive, tmp_path):
    endpoint = dataset(aws, tmp_path)
    endpoint_answers(aws["url"], json.dumps(ANSWER))
    endpoint.save(DeploymentRequest(archive, SETTINGS, smoke_request=SMOKE, label="v1"))
    assert (
        aws["s3"].get_object(Bucket="models", Key="music-recsys/v1/model.tar.gz")["Body"].read()
        == archive.read_bytes()
    )
    model = aws["sagemaker"].describe_model(ModelName="music-recsys-v1")
    assert model["PrimaryContainer"]["Image"] == IMAGE  # looked up with the sagemaker SDK
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://models/music-recsys/v1/model.tar.gz"
    config = aws["sagemaker"].describe_endpoint_config(EndpointConfigName="music-recsys-v1")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert config["ProductionVariants"][0]["ModelName"] == "music-recsys-v1"
    status = aws["sagemaker"].describe_endpoint(EndpointName="music-recsys")
    assert (
        status["EndpointConfigName"] == "music-recsys-v1"
        and status["EndpointStatus"] == "InService"
    )
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["deployed"] and record["action"] == "created"
    assert record["smoke_response"] == ANSWER and "smoke_error" not in record
    assert endpoint.load()["status"] == "InService"


def test_a_second_deploy_updates_the_endpoint_instead_of_failing(aws, archive, tmp_path):
    endpoint = dataset(aws, tmp_path)
    endpoint.save(DeploymentRequest(archive, SETTINGS, label="v1"))
    endpoint.save(DeploymentRequest(archive, SETTINGS, label="v2"))
    assert aws["updates"] == [("music-recsys", "music-recsys-v2")]
    assert json.loads((tmp_path / "record.json").read_text())["action"] == "updated"
    assert (
        aws["sagemaker"].describe_endpoint(EndpointName="music-recsys")["EndpointConfigName"]
        == "music-recsys-v2"
    )
    names = [e["EndpointName"] for e in aws["sagemaker"].list_endpoints()["Endpoints"]]
    assert names.count("music-recsys") == 1


def test_serverless_and_deletion_options(aws, archive, tmp_path):
    settings = SETTINGS | {
        "serverless": {"memory_size_mb": 2048, "max_concurrency": 3},
        "delete_endpoint_after": True,
    }
    dataset(aws, tmp_path).save(DeploymentRequest(archive, settings, label="v3"))
    config = aws["sagemaker"].describe_endpoint_config(EndpointConfigName="music-recsys-v3")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 3,
    }
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []
    assert json.loads((tmp_path / "record.json").read_text())["deleted"] is True


@pytest.mark.parametrize("missing", ["region", "role_arn", "bucket"])
def test_missing_configuration_fails_before_anything_is_uploaded(aws, archive, tmp_path, missing):
    with pytest.raises(
        DeploymentError, match=f"set deployment.sagemaker.{missing}.*Nothing was uploaded"
    ):
        dataset(aws, tmp_path).save(DeploymentRequest(archive, SETTINGS | {missing: None}))
    assert aws["s3"].list_objects_v2(Bucket="models").get("KeyCount", 0) == 0


def test_disabled_deployment_uploads_nothing(aws, archive, tmp_path):
    dataset(aws, tmp_path).save(DeploymentRequest(archive, SETTINGS | {"enabled": False}))
    assert json.loads((tmp_path / "record.json").read_text()) == {
        "deployed": False,
        "reason": "deployment.sagemaker.enabled is false",
    }
    assert aws["s3"].list_objects_v2(Bucket="models").get("KeyCount", 0) == 0


def test_an_upload_failure_creates_and_changes_nothing(aws, archive, tmp_path):
    with pytest.raises(DeploymentError, match="No SageMaker resource was created or changed"):
        dataset(aws, tmp_path).save(
            DeploymentRequest(archive, SETTINGS | {"bucket": "no-such-bucket"}, label="v4")
        )
    assert aws["sagemaker"].list_models()["Models"] == []
    assert aws["sagemaker"].list_endpoint_configs()["EndpointConfigs"] == []


def test_an_endpoint_failure_says_what_was_created_and_how_to_clean_up(
    aws, archive, tmp_path, monkeypatch
):
    original = SageMakerEndpointDataset._clients

    def failing(self, region):
        s3, sagemaker, runtime = original(self, region)

        def create_endpoint(**kwargs):
            raise RuntimeError("capacity exceeded")

        sagemaker.create_endpoint = create_endpoint
        return s3, sagemaker, runtime

    monkeypatch.setattr(SageMakerEndpointDataset, "_clients", failing)
    with pytest.raises(DeploymentError) as error:
        dataset(aws, tmp_path).save(DeploymentRequest(archive, SETTINGS, label="v5"))
    message = str(error.value)
    assert "capacity exceeded" in message
    assert "model music-recsys-v5" in message and "endpoint config music-recsys-v5" in message
    assert "aws sagemaker delete-model --model-name music-recsys-v5" in message


def test_missing_credentials_fail_before_any_upload(aws, archive, tmp_path, monkeypatch):
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    no_keys = SageMakerEndpointDataset(
        str(tmp_path / "record.json"), credentials={}, endpoint_url=aws["url"]
    )
    with pytest.raises(DeploymentError, match="No AWS credentials.*Nothing was uploaded"):
        no_keys.save(DeploymentRequest(archive, SETTINGS, label="v6"))
    assert aws["s3"].list_objects_v2(Bucket="models").get("KeyCount", 0) == 0


@pytest.mark.parametrize("delete_after", [True, False])
def test_a_failed_smoke_request_fails_the_deployment_safely(
    aws, archive, tmp_path, monkeypatch, delete_after
):
    """The container answers the smoke request with a 400, which boto3 raises as ModelError
    (the runtime's own error for a container's 4xx): a DeploymentError that names the endpoint
    and quotes the answer; the record is written; delete_endpoint_after still runs."""
    container_says = '{"error": "instance 0, seed 1 is a JSON object"}'
    original = SageMakerEndpointDataset._clients

    def failing(self, region):
        s3, sagemaker, runtime = original(self, region)
        stubber = Stubber(runtime)
        stubber.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message=f'Received client error (400) from primary with message "{container_says}"',
            http_status_code=424,
        )
        stubber.activate()
        return s3, sagemaker, runtime

    monkeypatch.setattr(SageMakerEndpointDataset, "_clients", failing)
    settings = SETTINGS | {"delete_endpoint_after": delete_after}
    with pytest.raises(DeploymentError) as error:
        dataset(aws, tmp_path).save(
            DeploymentRequest(archive, settings, smoke_request=SMOKE, label="v7")
        )
    message = str(error.value)
    assert "The smoke request to endpoint 'music-recsys' failed" in message
    assert "ModelError" in message and container_says in message
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["deployed"] and container_says in record["smoke_error"]
    endpoints = [e["EndpointName"] for e in aws["sagemaker"].list_endpoints()["Endpoints"]]
    if delete_after:
        assert record["deleted"] is True and endpoints == [] and "It was deleted" in message
    else:
        assert endpoints == ["music-recsys"]
        assert "aws sagemaker delete-endpoint --endpoint-name music-recsys" in message


def test_a_smoke_answer_without_predictions_fails_the_deployment(aws, archive, tmp_path):
    endpoint_answers(aws["url"], "<html>Bad gateway</html>")
    settings = SETTINGS | {"delete_endpoint_after": True}
    with pytest.raises(DeploymentError, match="without a prediction for each of its 2 instances"):
        dataset(aws, tmp_path).save(
            DeploymentRequest(archive, settings, smoke_request=SMOKE, label="v8")
        )
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["smoke_response"] == "<html>Bad gateway</html>" and record["deleted"] is True
