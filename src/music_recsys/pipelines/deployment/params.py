"""Typed parameters of the deployment pipeline (``conf/base/parameters_deployment.yml``)."""

from __future__ import annotations

from pydantic import Field

from music_recsys.core.params import Params


class ServerlessParams(Params):
    memory_size_mb: int = Field(3072, ge=1024, le=6144)
    max_concurrency: int = Field(5, ge=1, le=200)


class SageMakerParams(Params):
    """Where and how to deploy; nothing is uploaded unless ``enabled`` and complete.

    Secrets (AWS keys) are not parameters: they come from ``conf/local/credentials.yml`` (the
    ``aws`` entry, used by the ``sagemaker_endpoint`` dataset) or the usual AWS environment.
    """

    enabled: bool = False
    region: str | None = None
    role_arn: str | None = None
    bucket: str | None = None
    prefix: str = "music-recsys"
    model_name: str = "music-recsys"
    endpoint_name: str = "music-recsys"
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1)
    serverless: ServerlessParams | None = None
    framework_version: str = "2.20"
    image_uri: str | None = None
    smoke_test: bool = True
    delete_endpoint_after: bool = False


class BatchTransformParams(Params):
    """A SageMaker Batch Transform of the batch pipeline's playlists (``batch_input``) with the
    package just built (the ``batch_transform_recommendations`` dataset); uses ``sagemaker``'s
    region, role, bucket, prefix, model name and image. Null (the default): no job, nothing read or uploaded."""

    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1)
    max_payload_mb: int = Field(
        6, ge=1, le=100, description="MaxPayloadInMB: JSON lines packed into one request"
    )
    max_concurrent_transforms: int | None = Field(
        None, ge=1, description="requests in flight per instance; null: SageMaker's choice"
    )
    max_wait_seconds: int = Field(
        3600, ge=1, description="then the job is stopped and the node fails"
    )
    poll_seconds: int = Field(30, ge=1, description="between two looks at the job's status")


class ServingParams(Params):
    """What the package's ``code/inference.py`` accepts (written into its ``metadata.json``).

    A request over a limit is answered 413, saying which; ``rows_per_call`` bounds the model's
    working memory (the dense kinds hold a few ``[rows, catalog]`` arrays a call).
    """

    max_body_bytes: int = Field(6 * 1024 * 1024, ge=1024, description="SageMaker's limit: 6 MB")
    max_instances: int = Field(1000, ge=1, description="playlists in one request")
    max_seeds: int = Field(1000, ge=1, description="seed tracks in one playlist")
    rows_per_call: int | None = Field(
        None, ge=1, description="playlists per TF Serving call; null: evaluation.batch_bytes' worth"
    )
    client_body_timeout: float = Field(
        10.0,
        gt=0,
        le=600,
        description="music-recsys serve: seconds a client may stall in a request before a 408 "
        "(nginx's client_body_timeout in the container)",
    )


class DeploymentParams(Params):
    """The serving model and its checks."""

    k: int = Field(10, ge=1, description="recommendations per request, at most the catalog size")
    refit_on_all_data: bool = True
    # Ship this candidate instead of the selected one (refit on every playlist); null: the
    # selected candidate. For a kind's own check at full size, or a deliberate override.
    candidate: str | None = None
    parity_queries: int = Field(300, ge=1)
    seed: int = 0
    serving: ServingParams = ServingParams()
    sagemaker: SageMakerParams = SageMakerParams()
    batch_transform: BatchTransformParams | None = None
