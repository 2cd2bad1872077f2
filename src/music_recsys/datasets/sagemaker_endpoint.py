"""A Kedro dataset that deploys a model package to a SageMaker real-time endpoint.

Saving a :class:`DeploymentRequest` uploads ``model.tar.gz`` to S3 and creates — or, when the
endpoint exists, updates — a SageMaker model, endpoint configuration and endpoint serving it
with the TensorFlow Serving image, then optionally sends a smoke request and deletes the
endpoint. Nothing is uploaded unless the request is enabled and its configuration complete.
A smoke request that fails (or is answered without a prediction per instance) raises a
:class:`DeploymentError` naming the endpoint and quoting the answer — after the record is
written and the endpoint deleted if ``delete_endpoint_after`` asks. Loading describes the
endpoint.

The image URI comes from the sagemaker SDK (``sagemaker.core.image_uris``); the AWS calls are
plain boto3, which the SDK 3.x uses too and which a moto server can stand in for in tests.
Credentials come from the catalog (``credentials: aws`` → ``conf/local/credentials.yml``) or,
when absent, from the usual AWS chain (environment, ~/.aws, instance role).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)

REQUIRED = ("region", "role_arn", "bucket")


class DeploymentError(DatasetError):
    """A deployment step failed; the message says what exists and how to clean up.
    ``record``: the deployment record as far as it got, written before this is raised."""

    def __init__(self, message: str, record: dict | None = None) -> None:
        super().__init__(message)
        self.record = record


@dataclass
class DeploymentRequest:
    """What to deploy and how (``settings``: the ``deployment.sagemaker`` parameters)."""

    archive: Path
    settings: dict
    smoke_request: dict = field(default_factory=dict)
    label: str = ""  # appended to model and configuration names, e.g. a timestamp


class SageMakerEndpointDataset(AbstractDataset[DeploymentRequest, dict]):
    """Deploys on save; describes the endpoint on load. See the module doc."""

    def __init__(
        self,
        record_path: str,
        credentials: dict[str, Any] | None = None,
        endpoint_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            record_path: Where the record of the last deployment is written (JSON).
            credentials: ``aws_access_key_id``, ``aws_secret_access_key`` (and
                ``aws_session_token``), from ``conf/local/credentials.yml``.
            endpoint_url: Another S3 / SageMaker endpoint (a moto server in tests).
            metadata: Free-form metadata (kedro-viz reads its layer from here).
        """
        self._record_path = Path(record_path)
        self._credentials = dict(credentials or {})
        self._endpoint_url = endpoint_url
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"record_path": str(self._record_path), "endpoint_url": self._endpoint_url}

    def _clients(self, region: str):
        session = aws_session(region, self._credentials)
        return (
            session.client("s3", endpoint_url=self._endpoint_url),
            session.client("sagemaker", endpoint_url=self._endpoint_url),
            session.client("sagemaker-runtime", endpoint_url=self._endpoint_url),
        )

    def load(self) -> dict:
        if not self._record_path.exists():
            return {"deployed": False}
        record = json.loads(self._record_path.read_text(encoding="utf-8"))
        if record.get("deployed") and not record.get("deleted"):
            _, sagemaker, _ = self._clients(record["region"])
            record["status"] = sagemaker.describe_endpoint(EndpointName=record["endpoint_name"])[
                "EndpointStatus"
            ]
        return record

    def save(self, data: DeploymentRequest) -> None:
        settings = data.settings
        if not settings.get("enabled"):
            logger.info("SageMaker deployment is disabled (deployment.sagemaker.enabled: false)")
            self._write({"deployed": False, "reason": "deployment.sagemaker.enabled is false"})
            return
        unset = not_configured(settings, "SageMaker deployment is enabled")
        if unset:
            raise DeploymentError(unset)
        clients = self._clients(settings["region"])
        if not has_credentials(settings["region"], self._credentials):
            raise DeploymentError(NO_CREDENTIALS)
        try:
            record = deploy(clients, data)
        except DeploymentError as error:
            if error.record is not None:
                self._write(error.record)
            raise
        self._write(record)

    def _write(self, record: dict) -> None:
        self._record_path.parent.mkdir(parents=True, exist_ok=True)
        self._record_path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")


NO_CREDENTIALS = (
    "No AWS credentials: put aws_access_key_id and aws_secret_access_key under 'aws' in "
    "conf/local/credentials.yml, or set them in the AWS environment (AWS_PROFILE, "
    "AWS_ACCESS_KEY_ID, ...). Nothing was uploaded."
)


def aws_session(region: str, credentials: dict[str, Any]):
    """A boto3 session: the catalog's credentials, else the usual AWS chain."""
    import boto3  # noqa: PLC0415 - only when something is sent to AWS

    return boto3.session.Session(region_name=region, **credentials)


def has_credentials(region: str, credentials: dict[str, Any]) -> bool:
    return aws_session(region, credentials).get_credentials() is not None


def not_configured(settings: dict, what: str) -> str | None:
    """What to set, when ``deployment.sagemaker`` lacks one of :data:`REQUIRED` (``what``: the
    step that needs them, e.g. "SageMaker deployment is enabled"); None when complete."""
    missing = [name for name in REQUIRED if not settings.get(name)]
    if not missing:
        return None
    return (
        f"{what} but not configured: set "
        + ", ".join(f"deployment.sagemaker.{name}" for name in missing)
        + " in conf/local/parameters_deployment.yml (or with --params); AWS keys go in "
        "conf/local/credentials.yml under 'aws'. Nothing was uploaded."
    )


def image_uri(settings: dict) -> str:
    """The SageMaker TensorFlow Serving image for the configured version, region and instance."""
    if settings.get("image_uri"):
        return settings["image_uri"]
    from sagemaker.core import image_uris  # noqa: PLC0415 - slow import; only when deploying

    return image_uris.retrieve(
        "tensorflow",
        region=settings["region"],
        version=settings["framework_version"],
        image_scope="inference",
        instance_type=settings["instance_type"],
    )


def deploy(clients, request: DeploymentRequest) -> dict:
    """Upload, then create or update model, endpoint configuration and endpoint (see module doc)."""
    s3, sagemaker, runtime = clients
    settings = request.settings
    label = request.label or time.strftime("%Y%m%d-%H%M%S")
    key = f"{settings['prefix'].strip('/')}/{label}/model.tar.gz"
    model_data = f"s3://{settings['bucket']}/{key}"
    image = image_uri(settings)
    record = {
        "region": settings["region"],
        "endpoint_name": settings["endpoint_name"],
        "model_data": model_data,
        "image": image,
    }
    created: list[str] = []
    try:
        s3.upload_file(str(request.archive), settings["bucket"], key)
        created.append(f"s3 object {model_data}")
    except Exception as error:
        raise DeploymentError(
            f"Upload of {request.archive} to {model_data} failed: {error}. No SageMaker resource was created or changed."
        ) from error
    model_name = f"{settings['model_name']}-{label}"
    config_name = f"{settings['endpoint_name']}-{label}"
    try:
        sagemaker.create_model(
            ModelName=model_name,
            ExecutionRoleArn=settings["role_arn"],
            PrimaryContainer={"Image": image, "ModelDataUrl": model_data},
        )
        created.append(f"model {model_name}")
        variant = {"VariantName": "AllTraffic", "ModelName": model_name}
        if settings.get("serverless"):
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": settings["serverless"]["memory_size_mb"],
                "MaxConcurrency": settings["serverless"]["max_concurrency"],
            }
        else:
            variant |= {
                "InstanceType": settings["instance_type"],
                "InitialInstanceCount": settings["instance_count"],
            }
        sagemaker.create_endpoint_config(
            EndpointConfigName=config_name, ProductionVariants=[variant]
        )
        created.append(f"endpoint config {config_name}")
        if _endpoint_exists(sagemaker, settings["endpoint_name"]):
            sagemaker.update_endpoint(
                EndpointName=settings["endpoint_name"], EndpointConfigName=config_name
            )
            record["action"] = "updated"
        else:
            sagemaker.create_endpoint(
                EndpointName=settings["endpoint_name"], EndpointConfigName=config_name
            )
            record["action"] = "created"
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=settings["endpoint_name"])
    except Exception as error:
        raise DeploymentError(
            f"SageMaker deployment failed: {error}. Created so far: {', '.join(created) or 'nothing'}. "
            f"Clean up with: aws sagemaker delete-endpoint-config --endpoint-config-name {config_name}; "
            f"aws sagemaker delete-model --model-name {model_name}; aws s3 rm {model_data}"
        ) from error
    record |= {"deployed": True, "model_name": model_name, "endpoint_config_name": config_name}
    logger.info(
        "SageMaker endpoint '%s' %s with %s",
        settings["endpoint_name"],
        record["action"],
        model_data,
    )
    failure = None
    if settings.get("smoke_test") and request.smoke_request:
        failure = _smoke_test(runtime, settings["endpoint_name"], request.smoke_request, record)
    if settings.get("delete_endpoint_after"):
        not_deleted = _delete_endpoint(sagemaker, settings["endpoint_name"], record)
        failure = " ".join(f for f in (failure, not_deleted) if f) or None
    if failure:
        remedy = (
            "It was deleted (delete_endpoint_after: true)."
            if record.get("deleted")
            else f"It is still running (and billing): remove it with `aws sagemaker "
            f"delete-endpoint --endpoint-name {settings['endpoint_name']}`."
        )
        raise DeploymentError(f"{failure} {remedy}", record=record)
    return record


def _delete_endpoint(sagemaker, endpoint: str, record: dict) -> str | None:
    """Deletes the endpoint (``delete_endpoint_after``); what went wrong, if anything."""
    try:
        sagemaker.delete_endpoint(EndpointName=endpoint)
    except Exception as error:
        record["deleted"] = False
        return f"Deleting endpoint '{endpoint}' failed: {error}."
    record["deleted"] = True
    logger.info("Deleted endpoint '%s' (delete_endpoint_after: true)", endpoint)
    return None


def _smoke_test(runtime, endpoint: str, smoke_request: dict, record: dict) -> str | None:
    """Sends the smoke request; records the answer, or returns what went wrong: a failed
    invocation (boto3's ``ModelError`` carries the container's status and body), an answer
    that is not JSON, or one without a prediction per instance."""
    wanted = len(smoke_request.get("instances", []))
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(smoke_request),
        )
        body = response["Body"].read().decode("utf-8", errors="replace")
    except Exception as error:  # botocore's ModelError, throttling, timeouts, ...
        record["smoke_error"] = str(error)
        return f"The smoke request to endpoint '{endpoint}' failed: {error}"
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        answer = None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    record["smoke_response"] = answer if answer is not None else body
    if not isinstance(predictions, list) or len(predictions) != wanted:
        record["smoke_error"] = "no prediction for every instance"
        return (
            f"The smoke request to endpoint '{endpoint}' was answered without a prediction for "
            f"each of its {wanted} instances: {body[:500]!r}"
        )
    logger.info("Smoke request answered: %s", str(answer)[:200])
    return None


def _endpoint_exists(sagemaker, name: str) -> bool:
    try:
        sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError as error:
        if "Could not find" in str(error) or error.response.get("Error", {}).get("Code") in (
            "ValidationException",
            "ResourceNotFound",
        ):
            return False
        raise
    return True
