"""Nodes of the deployment pipeline: refit, build the serving model, check it, deploy it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.ranking import Recommender
from music_recsys.core.training_rows import build_track_index
from music_recsys.datasets.sagemaker_batch_transform import BatchTransformRequest
from music_recsys.datasets.sagemaker_endpoint import DeploymentRequest
from music_recsys.kinds import FitInputs, candidates, registry
from music_recsys.pipelines.batch.nodes import playlists_to_score
from music_recsys.pipelines.data_processing.params import CleaningParams
from music_recsys.progress import Progress
from music_recsys.serving import handler_source
from music_recsys.serving.package import ModelArchive, ModelPackage
from music_recsys.serving.parity import compare_rankings
from music_recsys.tables import Table, to_pandas

from .params import DeploymentParams

logger = logging.getLogger(__name__)


def refit_for_deployment(
    model_selection: dict,
    playlist_tracks: Table,
    track_order_report: dict,
    evaluation_protocol: dict,
    deployment: DeploymentParams,
    parameters: dict,
    **evaluated: Callable[[], Recommender] | dict,
) -> tuple[Recommender, dict]:
    """The recommender that ships: the selected candidate (or ``deployment.candidate``) refit
    on every playlist (default).

    The candidate's kind refits it (:mod:`music_recsys.kinds`; a blend refits its components
    and keeps its evaluated weights), with the settings it was evaluated with: tuned
    (``<candidate>__tuned_settings``), or the conf's. The reported figures stay those of the
    held-out evaluation; ``refit_on_all_data: false`` ships the evaluated fit instead.
    ``evaluated`` holds a loader per candidate (``<candidate>.recommender@loader``): only the
    shipped one's evaluated fit is loaded, and only when needed. The returned info records
    which fit it is.
    """
    suffix = "__tuned_settings"
    tuned = {k.removesuffix(suffix): v for k, v in evaluated.items() if k.endswith(suffix)}
    evaluated = {k: v for k, v in evaluated.items() if not k.endswith(suffix)}
    name = deployment.candidate or model_selection["selected"]
    info = {
        "candidate": name,
        "selection": model_selection["explanation"],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    declared = candidates(parameters)
    if name != model_selection["selected"]:
        if name not in declared:
            raise ValueError(
                f"deployment.candidate is '{name}', which is not a candidate; candidates: "
                f"{', '.join(sorted(declared))}"
            )
        logger.warning(
            "Shipping %s instead of the selected %s (deployment.candidate)",
            name,
            model_selection["selected"],
        )
        info["selection"] = (
            f"deployment.candidate ships '{name}' instead of the selected "
            f"'{model_selection['selected']}'. {model_selection['explanation']}"
        )
    if not deployment.refit_on_all_data:
        logger.info("Shipping the evaluated fit of %s (deployment.refit_on_all_data: false)", name)
        model = evaluated[name]()
        model.name = name
        return model, info | {"fit": "training playlists only (the evaluated fit)"}
    rows = playlist_tracks.project("playlist_id, position, track_id")
    index = build_track_index(rows)

    def refit(candidate_name: str) -> Recommender:
        """A candidate refit on every playlist by its kind (a blend refits its components
        through this same function, and keeps its evaluated weights)."""
        candidate = declared[candidate_name]
        inputs = FitInputs(
            rows,
            index,
            track_order_report,
            name=candidate_name,
            refit_component=refit,
            protocol=evaluation_protocol["protocol"],
        )
        settings = (
            candidate.kind.settings(**tuned[candidate_name])
            if candidate_name in tuned
            else candidate.validated()
        )
        model = candidate.kind.refitted(inputs, settings, evaluated[candidate_name])
        model.name = candidate_name
        return model

    model = refit(name)
    logger.info("Refit %s on every playlist: %d tracks in the catalog", name, len(index))
    return model, info | {
        "settings": tuned.get(name) or declared[name].validated().model_dump(mode="json"),
        "fit": "all playlists (train + validation + test)",
        "catalog_tracks": len(index),
        "is_baseline": declared[name].kind.baseline,
    }


def package_serving_model(
    deployed_recommender: Recommender,
    deployment_info: dict,
    deployment: DeploymentParams,
    evaluation: EvaluationParams,
) -> ModelPackage:
    """The Keras serving model with what it holds, and the handler the container runs in
    front of it (``code/inference.py``, with its limits in ``metadata.json``); the catalog
    exports and archives it."""
    from music_recsys.serving.model import INPUT_SIGNATURE, build_serving_model  # noqa: PLC0415 - TensorFlow

    model = build_serving_model(deployed_recommender, deployment.k)
    catalog = deployed_recommender.index.track_ids.tolist()
    serving = deployment.serving.model_dump()
    # The dense kinds hold a few [rows, catalog] float32 arrays a call: as many rows as the
    # evaluation's batch memory holds, unless set.
    serving["rows_per_call"] = serving["rows_per_call"] or max(
        1, evaluation.batch_bytes // (16 * max(len(catalog), 1))
    )
    metadata = deployment_info | {
        "k": model.k,
        "recency": deployed_recommender.recency.describe(),
        "kind": deployed_recommender.kind,
        "signature": {
            "inputs": {"seed_track_ids": "string [batch, n], padded with ''"},
            "outputs": {"track_ids": "string [batch, k]", "scores": "float32 [batch, k]"},
        },
        "serving": serving,
    }
    metadata |= registry()[deployed_recommender.kind].recorded(deployed_recommender)
    return ModelPackage(
        model=model,
        input_signature=INPUT_SIGNATURE,
        metadata=metadata,
        catalog=catalog,
        code={"inference.py": handler_source()},
    )


def _seed_batch(queries: pd.DataFrame) -> list[list[str]]:
    return [list(query) for query in queries["query"]]


def rank_parity_queries(
    deployed_recommender: Recommender,
    validation_queries: pd.DataFrame,
    deployment: DeploymentParams,
    evaluation: EvaluationParams,
) -> dict:
    """The evaluation code's answers to ``parity_queries`` random validation queries, which
    :func:`check_package` asks the package again.

    A node of its own so that the shipped recommender is released before the SavedModel is
    loaded: at full size, holding both was the deployment's peak memory. Both rank in batches
    within ``evaluation.batch_bytes``.
    """
    sample = validation_queries.sample(
        n=min(deployment.parity_queries, len(validation_queries)), random_state=deployment.seed
    )
    k = int(min(deployment.k, len(deployed_recommender.index)))  # as the serving model cuts it
    evaluated = rank_targets(
        deployed_recommender,
        sample,
        evaluation.cut_at(k),
        what="parity check, evaluation code",
    )
    track_ids = deployed_recommender.index.track_ids
    return {
        "seeds": _seed_batch(sample),
        "track_ids": [track_ids[row[row >= 0]].tolist() for row in evaluated.top],
        "scores": [s[row >= 0] for row, s in zip(evaluated.top, evaluated.scores, strict=True)],
        "catalog_tracks": len(track_ids),
        "k": k,
    }


def check_package(model_archive: ModelArchive, parity_expected: dict) -> dict:
    """Proves the package answers what was evaluated, asked as its SageMaker endpoint will be.

    The package is served as the SageMaker TensorFlow Serving container serves it
    (:class:`~music_recsys.serving.local.LocalEndpoint`): its own ``code/inference.py`` behind
    the container's front, in front of a strict TF Serving stand-in over its SavedModel.

    1. Parity: the queries :func:`rank_parity_queries` ranked with the evaluation code, sent
       as ``{"instances": [...]}`` requests of playlists of their own lengths, are answered
       with the evaluation code's top-K — same ids, same order, scores within 1e-5 relative;
       tracks with equal scores may trade places (counted, see :func:`compare_rankings`).
    2. The smoke request the deployment sends to the endpoint is answered: five of those
       queries of several tracks (:func:`smoke_playlists`), the question a client asks.

    Both depend on the model. The handler's other request shapes (named objects, CSV, JSON
    lines, ...) do not: that each answers as ``{"instances": ...}`` does is a test of the
    handler (``tests/serving/test_endpoint.py``), not a step of every deployment.

    Raises:
        RuntimeError: If any check fails (the package is not deployed).
    """
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415 - TensorFlow

    started = time.perf_counter()
    k = model_archive.metadata["k"]
    if parity_expected["k"] != k:
        raise RuntimeError(
            f"The package answers {k} tracks a query but the parity queries were ranked to "
            f"{parity_expected['k']}: package and check must come from the same deployment.k"
        )
    seeds = parity_expected["seeds"]
    expected_ids, expected_scores = parity_expected["track_ids"], parity_expected["scores"]
    per_request = model_archive.metadata["serving"]["max_instances"]
    with LocalEndpoint(model_archive.root) as endpoint:
        progress = Progress(logger, "parity check, the package's endpoint", len(seeds), "queries")
        served_ids, served_scores = [], []
        for start in range(0, len(seeds), per_request):
            part = seeds[start : start + per_request]
            for answer in endpoint.predict({"instances": part})["predictions"]:
                served_ids.append([t for t in answer["track_ids"] if t])
                served_scores.append(np.asarray(answer["scores"], dtype=np.float64))
            progress.advance(len(part))
        mismatches, swaps = compare_rankings(
            expected_ids, expected_scores, served_ids, served_scores
        )
        if mismatches:
            i = mismatches[0]
            raise RuntimeError(
                f"The package does not rank as the evaluation did on {len(mismatches)} of "
                f"{len(seeds)} queries; first: seeds {seeds[i]}: expected {expected_ids[i]} "
                f"(scores {np.round(expected_scores[i], 6).tolist()}), served {served_ids[i]} "
                f"(scores {np.round(served_scores[i][: len(served_ids[i])], 6).tolist()})"
            )
        smoke_request = {"instances": smoke_playlists(seeds)}
        smoke_response = endpoint.predict(smoke_request)
    logger.info(
        "Package checked through its own handler: %d queries rank as evaluated (%d of them "
        "with equal scores in another order)",
        len(seeds),
        len(swaps),
    )
    return {
        "parity_queries": len(seeds),
        "mismatches": 0,
        "equal_score_swaps": len(swaps),
        "k": k,
        "seconds": time.perf_counter() - started,
        "smoke_request": smoke_request,
        "smoke_response": smoke_response,
    }


def smoke_playlists(seeds: list[list[str]], wanted: int = 5, tracks: int = 3) -> list[list[str]]:
    """The smoke request's playlists: the first ``wanted`` parity queries of at least
    ``tracks`` tracks (the longest ones where fewer are that long)."""
    long = [s for s in seeds if len(s) >= tracks]
    return (long or sorted(seeds, key=len, reverse=True))[:wanted]


def request_deployment(
    model_archive: ModelArchive, serving_check: dict, deployment: DeploymentParams
) -> DeploymentRequest:
    """What the ``sagemaker_endpoint`` dataset deploys (or skips, when disabled)."""
    return DeploymentRequest(
        archive=model_archive.archive,
        settings=deployment.sagemaker.model_dump(),
        smoke_request=serving_check["smoke_request"],
    )


def request_batch_transform(
    model_archive: ModelArchive,
    serving_check: dict,
    batch_input: Table,
    cleaning: CleaningParams,
    deployment: DeploymentParams,
    evaluation: EvaluationParams,
) -> BatchTransformRequest:
    """What the ``batch_transform_recommendations`` dataset scores with a SageMaker Batch
    Transform of the checked package (``serving_check``: it runs after the check): the
    playlists the batch pipeline would score (``batch_input``: the primary layer, or
    ``--params batch_input=<path>``), each asked what a client asks, its last
    ``evaluation.max_query_tracks`` tracks (:func:`music_recsys.pipelines.batch.nodes.
    playlists_to_score`). With ``deployment.batch_transform`` null, ``batch_input`` (lazy) is
    not read: a run without a job costs nothing.
    """
    if deployment.batch_transform is None:
        return batch_transform_request(model_archive, None, deployment)
    playlists = to_pandas(playlists_to_score(batch_input, cleaning, evaluation))
    return batch_transform_request(model_archive, playlists[["playlist_id", "seeds"]], deployment)


def batch_transform_request(
    model_archive: ModelArchive, playlists: pd.DataFrame | None, deployment: DeploymentParams
) -> BatchTransformRequest:
    """The request for ``playlists`` (``playlist_id``, ``seeds``), with a fell-back flag per
    playlist: none of its seeds is in the package's catalog (it gets the most popular tracks)."""
    transform = deployment.batch_transform
    fell_back = None
    if transform is not None and playlists is not None:
        catalog = set(model_archive.catalog())
        fell_back = [not any(str(s) in catalog for s in seeds) for seeds in playlists["seeds"]]
        logger.info(
            "Batch Transform of %d playlists (%d with no track the package knows)",
            len(playlists),
            sum(fell_back),
        )
    return BatchTransformRequest(
        archive=model_archive.archive,
        playlists=playlists if transform is not None else None,
        fell_back=fell_back,
        settings=deployment.sagemaker.model_dump(),
        transform=transform.model_dump() if transform is not None else None,
    )
