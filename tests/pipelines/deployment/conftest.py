"""What the SageMaker tests share: a moto server standing in for S3 and SageMaker, the settings
of a complete deployment, and fresh clients on the server."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SETTINGS = {
    "enabled": True, "region": REGION, "role_arn": "arn:aws:iam::123456789012:role/sagemaker",
    "bucket": "models", "prefix": "music-recsys", "model_name": "music-recsys", "endpoint_name": "music-recsys",
    "instance_type": "ml.m5.large", "instance_count": 1, "serverless": None, "framework_version": "2.20",
    "image_uri": None, "smoke_test": True, "delete_endpoint_after": False,
}  # fmt: skip


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def fresh_clients(moto_url: str, monkeypatch: pytest.MonkeyPatch):
    """S3 and SageMaker clients on the moto server, emptied, with the bucket ``models``."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))  # noqa: S310
    session = boto3.session.Session(region_name=REGION, **CREDENTIALS)
    s3 = session.client("s3", endpoint_url=moto_url)
    sagemaker = session.client("sagemaker", endpoint_url=moto_url)
    s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3, sagemaker
