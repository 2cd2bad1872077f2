"""The playlist so far, weighed by recency, ranks alike in numpy and in the served model — for
prefixes of 1 to 50 tracks, every weighting, every kind that reads it; and with the steepest
decay a long playlist ranks as its last track alone."""

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")

from music_recsys.core.catalog import Query  # noqa: E402
from music_recsys.core.evaluation import rank_targets  # noqa: E402
from music_recsys.core.protocol import EvaluationParams  # noqa: E402
from music_recsys.core.training_rows import build_track_index  # noqa: E402
from music_recsys.duckdb_sql import relation  # noqa: E402
from music_recsys.kinds import kind  # noqa: E402
from music_recsys.kinds.blend.model import Blend  # noqa: E402
from music_recsys.serving.model import build_serving_model  # noqa: E402
from tests.shared import W2V, fit  # noqa: E402

K = 10
N_TRACKS = 150
_RNG = np.random.default_rng(11)
# Long playlists with repeats (a track listed twice), so that queries of 50 tracks exist.
LONG = [_RNG.choice(N_TRACKS, size=_RNG.integers(30, 70)) for _ in range(90)]
ROWS = pd.DataFrame(
    [(p, pos, f"A{t % 9}|||t{t}") for p, tracks in enumerate(LONG) for pos, t in enumerate(tracks)],
    columns=["playlist_id", "position", "track_id"],
)
# Prefixes of 1 to 50 tracks of playlists the models never saw, one with an unknown id.
HELD_OUT = [_RNG.choice(N_TRACKS, size=60) for _ in range(50)]
PREFIXES = [[f"A{t % 9}|||t{t}" for t in HELD_OUT[n - 1][:n]] for n in range(1, 51)]
PREFIXES[30] = PREFIXES[30][:15] + ["nobody|||nothing"] + PREFIXES[30][15:]

SETTINGS = {
    "cooccurrence linear": ("cooccurrence", {"window": 3, "recency": "linear"}),
    "cooccurrence last alone": (
        "cooccurrence",
        {"window": 3, "recency": "geometric", "recency_decay": 0.0},
    ),
    "sequential rules quadratic": ("sequential_rules", {"window": 4, "recency": "quadratic"}),
    "knn div, match log, positions": (
        "playlist_knn",
        {
            "neighbours": 15,
            "recency": "div",
            "match_recency": "log",
            "position_decay": 0.8,
            "idf_vote": 1.0,
            "vote_exponent": 2.0,
            "asymmetry": 0.75,
        },
    ),
    "knn geometric sampled": (
        "playlist_knn",
        {
            "neighbours": 8,
            "similarity": "jaccard",
            "sample_size": 30,
            "recency": "geometric",
            "recency_decay": 0.6,
            "match_recency": "geometric",
            "match_recency_decay": 0.3,
        },
    ),
    "ease log": ("ease", {"regularization": 20.0, "max_tracks": 100, "recency": "log"}),
    "ials geometric": (
        "ials",
        {"factors": 8, "iterations": 3, "recency": "geometric", "recency_decay": 0.7},
    ),
    "word2vec in_out div": ("word2vec", W2V | {"scoring": "in_out", "recency": "div"}),
}


@pytest.fixture(scope="module")
def models() -> dict:
    rows = relation(ROWS)
    index = build_track_index(rows)
    fitted = {
        label: fit(kind_name, rows, kind(kind_name).settings(**settings), index=index).recommender
        for label, (kind_name, settings) in SETTINGS.items()
    }
    fitted["blend of two recencies"] = Blend(
        fitted["cooccurrence linear"].index,
        name="blend",
        components=[fitted["cooccurrence linear"], fitted["knn div, match log, positions"]],
        weights=np.array([0.6, 0.4]),
        depth=20,
    )
    return fitted


def _frame(prefixes):
    return pd.DataFrame({"playlist_id": range(len(prefixes)), "query": prefixes, "target": "x"})


@pytest.mark.parametrize("label", [*SETTINGS, "blend of two recencies"])
def test_prefixes_of_1_to_50_tracks_rank_alike_in_numpy_and_served(models, label):
    recommender = models[label]
    if label != "blend of two recencies":
        assert not recommender.recency.flat  # the fit kept the setting: rows in play order
    evaluation = EvaluationParams(k=(K,), selection_metric=f"hit_rate_at_{K}")
    ranked = rank_targets(recommender, _frame(PREFIXES), evaluation)
    expected = [recommender.index.track_ids[row[row >= 0]].tolist() for row in ranked.top]
    width = max(len(p) for p in PREFIXES)
    served = build_serving_model(recommender, K)(
        tf.constant([p + [""] * (width - len(p)) for p in PREFIXES])
    )
    got = [[t.decode() for t in row if t] for row in served["track_ids"].numpy()]
    mismatches = [n for n, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert mismatches == []
    answered = ~ranked.fell_back
    np.testing.assert_allclose(
        served["scores"].numpy()[answered], ranked.scores[answered], rtol=1e-5, atol=1e-7
    )


def test_with_the_steepest_decay_a_long_playlist_ranks_as_its_last_track_alone(models):
    """Geometric decay 0 keeps the last track alone: the ranking is the last track's, with the
    rest of the playlist still never recommended back."""
    rows = relation(ROWS)
    index = build_track_index(rows)
    last_alone = {"recency": "geometric", "recency_decay": 0.0}
    for kind_name, settings in [
        ("cooccurrence", {"window": 3}),
        ("sequential_rules", {"window": 4}),
        ("playlist_knn", {"neighbours": 15, "match_recency": "div", "position_decay": 0.8}),
        ("ials", {"factors": 8, "iterations": 3}),
        ("word2vec", W2V | {"scoring": "in_out", "min_count": 1}),
    ]:
        chosen = kind(kind_name)
        model = fit(kind_name, rows, chosen.settings(**(settings | last_alone)), index=index)
        model = model.recommender
        for prefix in PREFIXES[9::10]:  # 10, 20, 30, 40 and 50 tracks
            query = Query.of(model.index.lookup(prefix))
            alone = Query.of(query.indices[-1:])
            top, _, _ = model.rank([query], K)
            wide, _, _ = model.rank([alone], K + len(query.indices))
            rest = set(query.indices.tolist())
            expected = [t for t in wide[0].tolist() if t not in rest][:K]
            assert top[0].tolist() == expected, kind_name
