"""Every kind keeps its contract: the candidates declared in ``conf/base`` (which name every
registered kind) are each fitted through their kind's contract on small playlists, and then

- ``rank`` is the top K of the dense ``scores`` (the definition), for random queries;
- the serving model built from the kind's declared serving layer ranks as the evaluation did;
- the package's variables hold the kind's declared arrays, and ``from_arrays`` rebuilds a
  recommender that ranks alike;
- ``refit`` (or ``fit``) refits it on more rows, through the same contract.

A new kind is covered by declaring it in conf: nothing here names a kind.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from music_recsys.core.catalog import Query
from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.recency import WEIGHTINGS
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import FitInputs, registry
from music_recsys.kinds.contract import RecencySettings
from music_recsys.pipelines.candidates import declared_candidates
from tests.conftest import PROJECT_ROOT
from tests.shared import ORDERED, ROWS, random_queries

K = 10
EVALUATION = EvaluationParams(k=(K,), selection_metric=f"hit_rate_at_{K}")
CANDIDATES = declared_candidates(str(PROJECT_ROOT / "conf"))
VALIDATION = random_queries(60, seed=11)
VALIDATION["target"] = [f"A{t % 7}|||t{t}" for t in range(60)]


def with_recency(settings, turn: int):
    """The settings with a recency (another weighting each turn), and for playlist-kNN its
    match weights too, so that every kind is checked weighing the playlist so far."""
    if not isinstance(settings, RecencySettings):
        return settings
    values = {"recency": WEIGHTINGS[turn % len(WEIGHTINGS)], "recency_decay": 0.6}
    if "position_decay" in type(settings).model_fields:
        values |= {"match_recency": "quadratic", "position_decay": 0.8, "idf_vote": 0.5}
    return type(settings)(**(settings.model_dump() | values))


def fit_all(rows: pd.DataFrame) -> dict:
    """Every declared candidate fitted through its kind's contract, components first."""
    table = relation(rows)
    index = build_track_index(table)
    fitted: dict = {}
    walls: dict = {}

    def fit_one(name: str):
        if name in fitted:
            return fitted[name]
        candidate = CANDIDATES[name]
        settings = with_recency(candidate.validated(), len(fitted))
        components = {c: fit_one(c).recommender for c in candidate.kind.component_names(settings)}
        inputs = FitInputs(
            table,
            index,
            ORDERED,
            name=name,
            validation_queries=VALIDATION,
            evaluation=EVALUATION,
            components=components,
        )
        started = time.perf_counter()
        fitted[name] = candidate.kind.fit(inputs, settings)
        walls[name] = time.perf_counter() - started
        return fitted[name]

    for name in CANDIDATES:
        fit_one(name)
    for name, result in fitted.items():
        result.stats["wall_seconds"] = walls[name]  # what the test measured around the fit
    return fitted


@pytest.fixture(scope="module")
def fitted() -> dict:
    return fit_all(ROWS)


def test_every_registered_kind_is_declared_in_conf():
    assert {c.kind.name for c in CANDIDATES.values()} == set(registry())


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_a_fit_returns_its_kinds_recommender_and_statistics(fitted, name):
    result = fitted[name]
    assert result.recommender.kind == CANDIDATES[name].kind.name
    # fit_seconds is the fit's own clock: positive, and within the wall time around it
    assert 0 < result.stats["fit_seconds"] <= result.stats["wall_seconds"]
    assert (result.validation is not None) == CANDIDATES[name].kind.reads_validation


def _reference_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """A full sort per row: score down, index up, excluded tracks left out."""
    n = scores.shape[1]
    top = np.full((len(scores), min(k, n)), -1)
    for row, values in enumerate(scores):
        order = np.lexsort((np.arange(n), -values.astype(np.float64)))
        order = order[values[order] != -np.inf][: top.shape[1]]
        top[row, : len(order)] = order
    return top


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_rank_is_the_top_k_of_the_dense_scores(fitted, name):
    from music_recsys.core.queries import as_queries  # noqa: PLC0415

    model = fitted[name].recommender
    queries = as_queries(model.index, random_queries(40, seed=5))[0]
    scores, fell_back = model.scores(queries)
    expected = _reference_top_k(scores, K)
    top, top_scores, ranked_fell_back = model.rank(queries, K)
    assert top.tolist() == expected.tolist()
    assert ranked_fell_back.tolist() == fell_back.tolist()
    want = np.where(expected >= 0, np.take_along_axis(scores, np.maximum(expected, 0), 1), 0)
    # The scores too, where a seed was known (a query of unknown ids falls back to popularity:
    # the order is the definition's, the blend reports its blended popularity as the score).
    answered = ~fell_back
    np.testing.assert_allclose(top_scores[answered], want[answered].astype(np.float32), rtol=1e-6)


@pytest.fixture(scope="module")
def packages(fitted, tmp_path_factory) -> dict:
    """One package per kind (the first candidate of each), written as the deployment does."""
    pytest.importorskip("tensorflow")
    from tests.shared import write_package  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("contract")
    first = {}
    for name in sorted(CANDIDATES):
        first.setdefault(CANDIDATES[name].kind.name, name)
    return {
        name: (
            fitted[name].recommender,
            write_package(fitted[name].recommender, folder / f"{name}.tar.gz", K),
        )
        for name in first.values()
    }


def test_the_served_model_and_the_package_arrays_rank_as_the_evaluation(packages):
    import tensorflow as tf  # noqa: PLC0415

    from music_recsys.serving import package_cache  # noqa: PLC0415
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415

    frame = random_queries(30, seed=9)
    for name, (recommender, archive) in packages.items():
        kind = registry()[recommender.kind]
        evaluated = rank_targets(recommender, frame, EVALUATION)
        expected = [recommender.index.track_ids[row[row >= 0]].tolist() for row in evaluated.top]
        with LocalEndpoint(archive.root) as endpoint:  # the declared serving layer, packaged
            answer = endpoint.predict({"instances": [list(q) for q in frame["query"]]})
            variables = {
                v.name.split(":")[0]: v.numpy() for v in endpoint.tf_serving.saved_model.variables
            }
        served = [[t for t in p["track_ids"] if t] for p in answer["predictions"]]
        assert served == expected, name
        assert set(kind.arrays) <= set(variables), name  # the declared arrays are there
        package_cache.save_arrays(archive.root, variables)
        rebuilt = package_cache.recommender(archive.root)
        assert type(rebuilt) is type(recommender)
        again = rank_targets(rebuilt, frame, EVALUATION)
        np.testing.assert_array_equal(again.top, evaluated.top)
        assert tf.__version__  # TensorFlow served; the rebuilt one ranked without it


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_a_refit_goes_through_the_same_contract(fitted, name):
    more = pd.concat(
        [ROWS, ROWS.assign(playlist_id=ROWS["playlist_id"] + 10_000)], ignore_index=True
    )
    table = relation(more)
    index = build_track_index(table)
    refitted = {}

    def refit(candidate_name: str):
        if candidate_name not in refitted:
            candidate = CANDIDATES[candidate_name]
            inputs = FitInputs(table, index, ORDERED, name=candidate_name, refit_component=refit)
            refitted[candidate_name] = candidate.kind.refitted(
                inputs, candidate.validated(), lambda: fitted[candidate_name].recommender
            )
        return refitted[candidate_name]

    model = refit(name)
    assert model.kind == CANDIDATES[name].kind.name and model.name == name
    assert model.index.counts.sum() == 2 * fitted[name].recommender.index.counts.sum()
    top, _, _ = model.rank([Query.of(np.array([1, 2]))], K)
    assert (top[0] >= 0).all() and not {1, 2} & set(top[0].tolist())
