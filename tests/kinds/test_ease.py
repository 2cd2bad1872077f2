"""EASE: the closed form against a direct inverse, the tracks it does not model, and the
serving layer's ranking when only part of the catalog is modelled."""

import numpy as np
import pytest
from pydantic import ValidationError

from music_recsys.core.catalog import Query
from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import EvaluationParams
from music_recsys.kinds.ease import EaseSettings, closed_form
from tests.shared import ROWS, fit, random_queries


def test_the_closed_form_is_steck_s_by_a_direct_inverse():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 8)) < 0.3).astype(np.float64)
    gram = x.T @ x
    inverse = np.linalg.inv(gram + 5.0 * np.eye(8))
    want = np.eye(8) - inverse / np.diag(inverse)[None, :]
    got = closed_form(gram, 5.0)
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert np.all(np.diag(got) == 0)


def test_only_the_most_popular_tracks_are_modelled_and_the_rest_rank_after_them():
    fitted = fit("ease", ROWS, EaseSettings(regularization=10.0, max_tracks=20))
    model, stats = fitted.recommender, fitted.stats
    assert model.weights.shape == (20, 20) and stats["tracks_modelled"] == 20
    n = len(model.index)
    seed = Query.of(np.array([3]))
    top, scores, fell_back = model.rank([seed], n)
    assert not fell_back[0] and 3 not in top[0]
    # 19 modelled tracks (the seed left out), then the unmodelled ones by index, then nothing
    assert top[0][:19].max() < 20 and top[0][19:].tolist() == [*range(20, n), -1]
    unmodelled = Query.of(np.array([45]))  # a track EASE does not model: popularity
    top, _, fell_back = model.rank([unmodelled], 3)
    assert fell_back[0] and top[0].tolist() == [0, 1, 2]


def test_the_size_guard_refuses_a_matrix_too_large_to_solve():
    with pytest.raises(ValidationError, match="less than or equal to 20000"):
        EaseSettings(max_tracks=50_000)


def test_the_served_model_ranks_as_the_evaluation_with_part_of_the_catalog_modelled():
    tf = pytest.importorskip("tensorflow")
    from music_recsys.serving.model import build_serving_model  # noqa: PLC0415

    settings = EaseSettings(
        regularization=10.0, max_tracks=25, recency="geometric", recency_decay=0.5
    )
    model = fit("ease", ROWS, settings).recommender
    frame = random_queries(80, seed=2)
    evaluation = EvaluationParams(k=(10,))
    top = rank_targets(model, frame, evaluation).top
    expected = [model.index.track_ids[row[row >= 0]].tolist() for row in top]
    served = build_serving_model(model, 10)
    seeds = [list(q) for q in frame["query"]]
    width = max(len(s) for s in seeds)
    out = served(tf.constant([s + [""] * (width - len(s)) for s in seeds]))
    got = [[t.decode() for t in row if t] for row in out["track_ids"].numpy()]
    assert got == expected
