"""A Kedro dataset that scores playlists with a SageMaker Batch Transform of the model package.

Saving a :class:`BatchTransformRequest` writes the playlists as JSON lines (one JSON list of
seed track ids a line, in order), uploads them and ``model.tar.gz`` to
``s3://<bucket>/<prefix>/<label>/batch/``, creates a SageMaker model serving the package with
the TensorFlow Serving image, and runs a transform job over the lines: ``ContentType`` and
``Accept`` ``application/jsonlines``, ``SplitType: Line``, ``BatchStrategy: MultiRecord`` (as
many lines a request as ``MaxPayloadInMB`` holds), ``AssembleWith: Line``. The package's
handler answers such a request one ``{"track_ids": [...], "scores": [...]}`` a line, so the
output ``playlists.jsonl.out`` holds one line per playlist, in order; it is read back as
:data:`music_recsys.serving.batch.COLUMNS` rows and written as Parquet to ``filepath``.

The job is polled every ``poll_seconds`` (its status and elapsed time logged) until it ends or
``max_wait_seconds`` pass; then, or when anything goes wrong while it runs (an interrupt
included), it is stopped, so that nothing keeps running. The SageMaker model is deleted
whatever happens. A job that fails (or is stopped, or whose output does not hold one answer
per playlist) raises a :class:`BatchTransformError` naming the job, SageMaker's reason, what
was created and how to clean up — after the record is written. Nothing is uploaded unless the
request is enabled, its configuration complete and the playlists fit the package's limits
(each line within ``MaxPayloadInMB``, at most ``max_seeds`` seeds a playlist); the job's
container is told, through ``MUSIC_RECSYS_MAX_INSTANCES`` / ``MUSIC_RECSYS_MAX_BODY_BYTES``
(read by the handler), how many lines and bytes one request may bring.

The record (JSON at ``record_path``): whether a job ran, its name, input and output S3 URIs,
status, seconds, rows written. Loading reads the Parquet back. The AWS calls are plain boto3,
as in :mod:`music_recsys.datasets.sagemaker_endpoint`, whose image lookup this reuses;
credentials come from the catalog (``credentials: aws``) or the usual AWS chain.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from music_recsys.datasets.atomic import atomic_write
from music_recsys.datasets.sagemaker_endpoint import (
    NO_CREDENTIALS,
    DeploymentError,
    aws_session,
    has_credentials,
    image_uri,
    not_configured,
)
from music_recsys.serving.batch import COLUMNS, answers_to_rows
from music_recsys.serving.inference import DEFAULT_LIMITS
from music_recsys.serving.package import read_metadata

logger = logging.getLogger(__name__)

JSON_LINES = "application/jsonlines"
INPUT_NAME = "playlists.jsonl"
MB = 2**20  # MaxPayloadInMB's megabyte, taken at its largest (more lines a request)
ENDED = ("Completed", "Failed", "Stopped")


class BatchTransformError(DeploymentError):
    """A Batch Transform step failed; the message names the job, SageMaker's reason, what
    exists and how to clean up. ``record``: the record as far as it got (already written)."""


@dataclass
class BatchTransformRequest:
    """What to score and how.

    ``playlists``: ``playlist_id`` and ``seeds`` (track ids, oldest first), one row per
    playlist; ``fell_back``: per playlist, whether none of its seeds is in the package's
    catalog (the endpoint does not say); ``settings``: the ``deployment.sagemaker``
    parameters; ``transform``: the ``deployment.batch_transform`` ones (None: no job).
    """

    archive: Path
    playlists: pd.DataFrame | None
    fell_back: list[bool] | None
    settings: dict
    transform: dict | None
    label: str = ""  # names the S3 folder, model and job, e.g. a timestamp (the default)


class SageMakerBatchTransformDataset(AbstractDataset[BatchTransformRequest, pd.DataFrame]):
    """Runs a Batch Transform on save; reads its recommendations on load. See the module doc."""

    def __init__(  # noqa: PLR0913 - the catalog's arguments
        self,
        filepath: str,
        record_path: str,
        credentials: dict[str, Any] | None = None,
        endpoint_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        poll_seconds: float = 30,
    ) -> None:
        """Creates the dataset.

        Args:
            filepath: Where the recommendations are written (Parquet, :data:`COLUMNS`).
            record_path: Where the record of the last job is written (JSON).
            credentials: ``aws_access_key_id``, ``aws_secret_access_key`` (and
                ``aws_session_token``), from ``conf/local/credentials.yml``.
            endpoint_url: Another S3 / SageMaker endpoint (a moto server in tests).
            metadata: Free-form metadata (kedro-viz reads its layer from here).
            poll_seconds: Between two looks at the job, unless the request's
                ``transform`` sets ``poll_seconds``.
        """
        self._filepath = Path(filepath)
        self._record_path = Path(record_path)
        self._credentials = dict(credentials or {})
        self._endpoint_url = endpoint_url
        self._poll_seconds = poll_seconds
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "record_path": str(self._record_path),
            "endpoint_url": self._endpoint_url,
        }

    def _clients(self, region: str):
        session = aws_session(region, self._credentials)
        return (
            session.client("s3", endpoint_url=self._endpoint_url),
            session.client("sagemaker", endpoint_url=self._endpoint_url),
        )

    def _exists(self) -> bool:
        return self._filepath.exists()

    def load(self) -> pd.DataFrame:
        if not self._filepath.exists():
            raise DatasetError(
                f"No Batch Transform recommendations at {self._filepath}: set "
                "deployment.batch_transform and run `kedro run --pipelines deployment`"
            )
        return pd.read_parquet(self._filepath)

    def save(self, data: BatchTransformRequest) -> None:
        if data.transform is None:
            logger.info("No SageMaker Batch Transform (deployment.batch_transform: null)")
            self._write({"ran": False, "reason": "deployment.batch_transform is null"})
            return
        settings = data.settings
        unset = not_configured(
            settings, "SageMaker Batch Transform is enabled (deployment.batch_transform)"
        )
        if unset:
            raise BatchTransformError(unset)
        playlists = data.playlists if data.playlists is not None else _no_playlists()
        if playlists.empty:
            logger.warning("SageMaker Batch Transform: no playlists to score; no job was run")
            self._write_rows(pd.DataFrame(columns=list(COLUMNS)))
            self._write({"ran": False, "reason": "no playlists to score", "rows_written": 0})
            return
        lines = input_lines(playlists["seeds"])
        environment = container_limits(data.archive, playlists["seeds"], lines, data.transform)
        if not has_credentials(settings["region"], self._credentials):
            raise BatchTransformError(NO_CREDENTIALS)
        transform = {"poll_seconds": self._poll_seconds} | dict(data.transform)
        record: dict[str, Any] = {}
        try:
            answers = run_transform(
                self._clients(settings["region"]), data, lines, environment, transform, record
            )
        except BaseException:  # a failure, or an interrupt: the record says what exists
            if record:
                self._write(record)
            raise
        try:
            rows = read_answers(answers, playlists, data.fell_back, record)
        except BatchTransformError as error:
            self._write(error.record)
            raise
        self._write_rows(rows)
        record["rows_written"] = len(rows)
        self._write(record)
        logger.info(
            "SageMaker Batch Transform '%s': %d recommendations for %d playlists in %s",
            record["job_name"],
            len(rows),
            len(playlists),
            self._filepath,
        )

    def _write_rows(self, rows: pd.DataFrame) -> None:
        with atomic_write(self._filepath) as temporary:
            rows.to_parquet(temporary, index=False)

    def _write(self, record: dict) -> None:
        with atomic_write(self._record_path) as temporary:
            temporary.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")


def _no_playlists() -> pd.DataFrame:
    return pd.DataFrame({"playlist_id": [], "seeds": []})


def input_lines(seeds: pd.Series) -> list[bytes]:
    """One JSON list of seeds a playlist (UTF-8, with its newline): the job's input lines."""
    return [(json.dumps([str(s) for s in playlist]) + "\n").encode("utf-8") for playlist in seeds]


def container_limits(archive: Path, seeds: pd.Series, lines: list[bytes], transform: dict) -> dict:
    """The container's environment for the job: the handler's ``max_instances`` and
    ``max_body_bytes`` raised to what one request of ``max_payload_mb`` may bring.

    Raises:
        BatchTransformError: A playlist the package or SageMaker would refuse (a line over
            ``MaxPayloadInMB``, more seeds than the package's ``max_seeds``), or an archive
            that is not a music_recsys package. Nothing was uploaded.
    """
    try:
        serving = DEFAULT_LIMITS | read_metadata(archive).get("serving", {})
    except (OSError, ValueError, EOFError) as error:  # tarfile's errors are OSError/ValueError
        raise BatchTransformError(
            f"{archive} is not a readable music_recsys package ({error}): rebuild it with "
            "`kedro run --pipelines deployment`. Nothing was uploaded."
        ) from error
    payload = int(transform.get("max_payload_mb", 6)) * MB
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    if len(lines[longest]) > payload * 10**6 // MB:  # SageMaker's MB might be 10^6 bytes
        raise BatchTransformError(
            f"Playlist {longest} is {len(lines[longest]):,} bytes as a JSON line, more than "
            f"deployment.batch_transform.max_payload_mb ({transform.get('max_payload_mb', 6)}) "
            "holds: raise it (at most 100). Nothing was uploaded."
        )
    most_seeds = max(len(s) for s in seeds)
    if most_seeds > int(serving["max_seeds"]):
        raise BatchTransformError(
            f"A playlist has {most_seeds} seeds; the package answers at most "
            f"{serving['max_seeds']} (deployment.serving.max_seeds): ask with fewer "
            "(evaluation.max_query_tracks). Nothing was uploaded."
        )
    # MultiRecord packs as many lines as fit in MaxPayloadInMB: at worst, the shortest ones.
    sizes = sorted(len(line) for line in lines)
    total, fits = 0, 0
    for size in sizes:
        total += size
        if total > payload:
            break
        fits += 1
    return {
        "MUSIC_RECSYS_MAX_INSTANCES": str(max(fits, int(serving["max_instances"]))),
        "MUSIC_RECSYS_MAX_BODY_BYTES": str(max(payload, int(serving["max_body_bytes"]))),
    }


def run_transform(  # noqa: PLR0913
    clients,
    request: BatchTransformRequest,
    lines: list[bytes],
    environment: dict,
    transform: dict,
    record: dict,
) -> bytes:
    """Upload, create the model, run the job, delete the model; the job's output (see the
    module doc). ``record`` is filled in as it goes (also when it fails)."""
    s3, sagemaker = clients
    settings = request.settings
    label = request.label or time.strftime("%Y%m%d-%H%M%S")
    bucket = settings["bucket"]
    folder = f"{settings['prefix'].strip('/')}/{label}/batch"
    input_uri = f"s3://{bucket}/{folder}/input/{INPUT_NAME}"
    model_data = f"s3://{bucket}/{folder}/model.tar.gz"
    output_uri = f"s3://{bucket}/{folder}/output"
    name = f"{settings['model_name']}-batch-{label}"
    record |= {
        "ran": False,
        "region": settings["region"],
        "job_name": name,
        "model_name": name,
        "input": input_uri,
        "model_data": model_data,
        "output": f"{output_uri}/{INPUT_NAME}.out",
        "playlists": len(lines),
    }
    cleanup = f"aws s3 rm --recursive s3://{bucket}/{folder}/"
    try:
        s3.put_object(Bucket=bucket, Key=f"{folder}/input/{INPUT_NAME}", Body=b"".join(lines))
        s3.upload_file(str(request.archive), bucket, f"{folder}/model.tar.gz")
    except Exception as error:
        raise BatchTransformError(
            f"Upload of the playlists and {request.archive} to s3://{bucket}/{folder}/ failed: "
            f"{error}. No SageMaker resource was created; remove what was uploaded with: "
            f"{cleanup}",
            record=record,
        ) from error
    instance_type = transform.get("instance_type", "ml.m5.large")
    record["image"] = image = image_uri(settings | {"instance_type": instance_type})
    try:
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=settings["role_arn"],
            PrimaryContainer={"Image": image, "ModelDataUrl": model_data},
        )
    except Exception as error:
        raise BatchTransformError(
            f"Creating SageMaker model '{name}' failed: {error}. Uploaded: {input_uri}, "
            f"{model_data}; remove them with: {cleanup}",
            record=record,
        ) from error
    job = transform_job(name, input_uri, output_uri, environment, transform)
    failure = None
    try:
        answers = _run_job(s3, sagemaker, job, record, transform)
    except BatchTransformError as error:
        failure = error
    finally:  # whatever happened (an interrupt too): the model goes
        deleted = _delete_model(sagemaker, name, record)
    if failure is not None:
        raise BatchTransformError(
            f"{failure} {deleted} Remove the uploads (and any output) with: {cleanup}",
            record=record,
        ) from failure.__cause__
    return answers


def transform_job(
    name: str, input_uri: str, output_uri: str, environment: dict, transform: dict
) -> dict:
    """``create_transform_job``'s arguments: JSON lines in and out, a line a record, as many
    lines a request as ``max_payload_mb`` holds, the answers joined a line each."""
    job = {
        "TransformJobName": name,
        "ModelName": name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": int(transform.get("max_payload_mb", 6)),
        "Environment": environment,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": JSON_LINES,
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": output_uri,
            "Accept": JSON_LINES,
            "AssembleWith": "Line",
        },
        "TransformResources": {
            "InstanceType": transform.get("instance_type", "ml.m5.large"),
            "InstanceCount": int(transform.get("instance_count", 1)),
        },
    }
    if transform.get("max_concurrent_transforms"):
        job["MaxConcurrentTransforms"] = int(transform["max_concurrent_transforms"])
    return job


def _run_job(s3, sagemaker, job: dict, record: dict, transform: dict) -> bytes:
    """Creates the job, waits for it and returns its output; stops it on any way out before
    it ends (a wait cut at ``max_wait_seconds``, an error, an interrupt)."""
    name = job["TransformJobName"]
    try:
        sagemaker.create_transform_job(**job)
    except Exception as error:
        raise BatchTransformError(
            f"Creating SageMaker Batch Transform job '{name}' failed: {error}.", record=record
        ) from error
    record["ran"] = True
    resources = job["TransformResources"]
    logger.info(
        "SageMaker Batch Transform job '%s' started: %d playlists on %d x %s",
        name,
        record["playlists"],
        resources["InstanceCount"],
        resources["InstanceType"],
    )
    max_wait = transform.get("max_wait_seconds", 3600)
    started = time.monotonic()
    try:
        while True:
            description = sagemaker.describe_transform_job(TransformJobName=name)
            status = description["TransformJobStatus"]
            elapsed = time.monotonic() - started
            record |= {"status": status, "seconds": round(elapsed, 1)}
            logger.info("Batch Transform job '%s': %s after %.0f s", name, status, elapsed)
            if status in ENDED:
                break
            if elapsed >= max_wait:
                raise TimeoutError(  # noqa: TRY301 - stopped below like any other way out
                    f"still {status} after {elapsed:.0f} s "
                    f"(deployment.batch_transform.max_wait_seconds: {max_wait})"
                )
            time.sleep(transform.get("poll_seconds", 30))
    except BaseException as error:  # a wait cut short, a failed call, an interrupt
        stopped = _stop_job(sagemaker, name, record)
        if not isinstance(error, Exception):
            raise
        raise BatchTransformError(
            f"Waiting for SageMaker Batch Transform job '{name}' failed: {error}. {stopped}",
            record=record,
        ) from error
    if status != "Completed":
        reason = description.get("FailureReason") or "no reason given"
        record["failure_reason"] = reason
        raise BatchTransformError(
            f"SageMaker Batch Transform job '{name}' {status}: {reason}. Its logs are in "
            f"CloudWatch (/aws/sagemaker/TransformJobs, streams {name}/...); `aws sagemaker "
            f"describe-transform-job --transform-job-name {name}` shows it.",
            record=record,
        )
    bucket, _, key = record["output"].removeprefix("s3://").partition("/")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:
        raise BatchTransformError(
            f"SageMaker Batch Transform job '{name}' completed but its output "
            f"{record['output']} could not be read: {error}.",
            record=record,
        ) from error


def _stop_job(sagemaker, name: str, record: dict) -> str:
    """Asks SageMaker to stop the job; what became of that, in words."""
    try:
        sagemaker.stop_transform_job(TransformJobName=name)
    except Exception as error:
        record["stopped"] = False
        return (
            f"Stopping it failed ({error}): it may still be running (and billing); stop it "
            f"with `aws sagemaker stop-transform-job --transform-job-name {name}`."
        )
    record["stopped"] = True
    logger.warning("Asked SageMaker to stop Batch Transform job '%s'", name)
    return (
        f"The job was asked to stop (it stops within minutes; `aws sagemaker "
        f"describe-transform-job --transform-job-name {name}` shows it)."
    )


def _delete_model(sagemaker, name: str, record: dict) -> str:
    """Deletes the job's SageMaker model (a transform job holds its own copy of it); what
    became of it, in words."""
    try:
        sagemaker.delete_model(ModelName=name)
    except Exception as error:
        record["model_deleted"] = False
        message = (
            f"Deleting SageMaker model '{name}' failed ({error}): delete it with `aws "
            f"sagemaker delete-model --model-name {name}`."
        )
        logger.error(message)
        return message
    record["model_deleted"] = True
    return f"SageMaker model '{name}' was deleted."


def read_answers(
    output: bytes, playlists: pd.DataFrame, fell_back: list[bool] | None, record: dict
) -> pd.DataFrame:
    """The job's output (one JSON answer a line, in input order; empty lines skipped) as
    :data:`COLUMNS` rows.

    Raises:
        BatchTransformError: Not one answer per playlist, or a line that is not an answer.
    """
    text = output.decode("utf-8", errors="replace")
    lines = [(n, line) for n, line in enumerate(io.StringIO(text), start=1) if line.strip()]
    where = f"{record['output']} (job '{record['job_name']}')"
    if len(lines) != len(playlists):
        record["error"] = f"{len(lines)} answers for {len(playlists)} playlists"
        raise BatchTransformError(
            f"{where} holds {len(lines)} answer lines for {len(playlists)} playlists: the "
            "answers cannot be matched to their playlists. Is the package's handler one that "
            "answers application/jsonlines one line per playlist? Nothing was written to the "
            "recommendations.",
            record=record,
        )
    predictions = []
    for number, line in lines:
        try:
            answer = json.loads(line)
            if not isinstance(answer, dict) or not {"track_ids", "scores"} <= set(answer):
                raise ValueError("no track_ids and scores")
        except ValueError as error:
            record["error"] = f"line {number} is not an answer"
            raise BatchTransformError(
                f"{where}: line {number} is not an answer ({error}): {line[:300]!r}. Nothing "
                "was written to the recommendations.",
                record=record,
            ) from None
        predictions.append(answer)
    return answers_to_rows(playlists["playlist_id"].to_numpy(), predictions, fell_back)
