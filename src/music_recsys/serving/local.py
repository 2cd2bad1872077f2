"""A package served locally as a SageMaker endpoint serves it, for checks, the CLI and notebooks.

:class:`LocalEndpoint` puts the pieces of the SageMaker TensorFlow Serving container in a row,
over an extracted ``model.tar.gz``: the strict TF Serving stand-in
(:mod:`music_recsys.serving.tf_serving`) on a loopback port, answering for the SavedModel in
``1/``; the container's front (:mod:`music_recsys.serving.container`) with the package's own
``code/inference.py``; and :meth:`LocalEndpoint.invoke`, which sends a request through that
front in-process (falcon's WSGI simulation: the same code path as an HTTP request, without the
socket). ``music-recsys serve`` puts the same front on a socket.

    with LocalEndpoint("data/09_deployment/model.tar.gz") as endpoint:
        endpoint.predict({"instances": [["Artist|||Title"], ["Other|||Song", "A|||B"]]})
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from music_recsys.serving import package_cache
from music_recsys.serving.container import create_app
from music_recsys.serving.package import MODEL_VERSION
from music_recsys.serving.tf_serving import TFServingStandIn

JSON = "application/json"


@dataclass
class Response:
    """What the endpoint answered: the HTTP status, content type and body."""

    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class EndpointError(RuntimeError):
    """The endpoint answered with an error status (the response is attached)."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}: {response.text[:2000]}")
        self.response = response


def package_folder(package: str | Path) -> Path:
    """An extracted package: ``package`` itself, or ``model.tar.gz`` extracted into the cache."""
    path = Path(package)
    if path.is_file():
        path = package_cache.extracted(path)
    script = path / "code" / "inference.py"
    if not (path / MODEL_VERSION).is_dir() or not script.is_file():
        raise FileNotFoundError(
            f"{package} is not a music_recsys package with {MODEL_VERSION}/ and "
            "code/inference.py: rebuild it with `kedro run --pipelines deployment`"
        )
    return path


def serving_limits(folder: Path) -> dict:
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    return metadata.get("serving", {})


class LocalEndpoint:
    """One package behind the container's front and a TF Serving stand-in (module doc)."""

    def __init__(self, package: str | Path) -> None:
        self.folder = package_folder(package)
        self.tf_serving = TFServingStandIn(self.folder / MODEL_VERSION)
        predict_uri = self.tf_serving.start()
        limits = serving_limits(self.folder)
        self.app = create_app(
            self.folder / "code" / "inference.py",
            predict_uri.split("/v1/")[0],
            self.tf_serving.model_name,
            **({"max_body_bytes": limits["max_body_bytes"]} if "max_body_bytes" in limits else {}),
        )

    def invoke(
        self,
        body: bytes | str | dict | list,
        content_type: str | None = JSON,
        accept: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """``POST /invocations`` with this body (a dict or list is sent as JSON)."""
        from falcon import testing  # noqa: PLC0415

        if isinstance(body, dict | list):
            body = json.dumps(body)
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        if accept is not None:
            sent["Accept"] = accept
        result = testing.simulate_post(self.app, "/invocations", body=body, headers=sent)
        return Response(result.status_code, result.headers.get("content-type", ""), result.text)

    def predict(self, request: dict | list | str, content_type: str = JSON) -> dict:
        """The answer to a request, as a SageMaker client gets it (raises on an error)."""
        response = self.invoke(request, content_type)
        if response.status != 200:
            raise EndpointError(response)
        return response.json()

    def close(self) -> None:
        self.tf_serving.stop()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
