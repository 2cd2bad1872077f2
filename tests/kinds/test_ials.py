"""iALS: implicit's fit, and the fold-in solve equal to recalculate_user."""

import numpy as np
import scipy.sparse as sp

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.kinds import ials
from tests.shared import fit, playlists


def test_ials_fold_in_equals_implicits_recalculate_user():
    from implicit.cpu.als import AlternatingLeastSquares  # noqa: PLC0415

    rng = np.random.default_rng(0)
    matrix = sp.csr_matrix((rng.random((80, 50)) < 0.1).astype(np.float32))
    reference = AlternatingLeastSquares(
        factors=6, regularization=0.05, alpha=4.0, iterations=3, random_state=0
    )
    reference.fit(matrix, show_progress=False)
    index = TrackIndex(np.array([f"t{i}" for i in range(50)], dtype=object), np.arange(50, 0, -1))
    model = ials.build(
        index,
        reference.item_factors,
        ials.IalsSettings(factors=6, regularization=0.05, alpha=4.0),
        "i",
    )
    for user in range(10):
        seeds = matrix[user].indices
        if not len(seeds):
            continue
        expected = reference.recalculate_user(user, matrix[user])
        got = model.fold_in(Query(seeds.astype(np.int64), np.ones(len(seeds))))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_ials_fits_with_implicit_from_the_training_rows():
    fitted = fit(
        "ials",
        playlists(*["a b c", "b c d", "a c e"] * 5),
        ials.IalsSettings(factors=3, iterations=2),
    )
    model, stats = fitted.recommender, fitted.stats
    assert model.item_vectors.shape == (5, 3)
    assert {"fit_seconds", "factors", "iterations"} <= set(stats) and stats["factors"] == 3
    seed = Query.of(model.index.lookup(["X|||a"]))
    top, _, fell_back = model.rank([seed], 2)
    assert seed.indices[0] not in top[0] and not fell_back[0]
