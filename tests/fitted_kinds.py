"""One small fitted recommender of every kind (and the settings that change how it serves),
on hand-made playlists: the cases the serving tests run every kind through."""

from __future__ import annotations

import numpy as np
import pandas as pd

from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import (
    blend,
    cooccurrence,
    ials,
    most_popular,
    playlist_knn,
    transitions,
    word2vec,
)

N_TRACKS = 60
_RNG = np.random.default_rng(7)
PLAYLISTS = [_RNG.choice(N_TRACKS, size=_RNG.integers(3, 12), replace=False) for _ in range(150)]
ROWS = pd.DataFrame(
    [
        (p, pos, f"A{t % 7}|||t{t}")
        for p, tracks in enumerate(PLAYLISTS)
        for pos, t in enumerate(tracks)
    ],
    columns=["playlist_id", "position", "track_id"],
)
W2V = {"sg": 1, "vector_size": 8, "window": 3, "epochs": 3, "min_count": 2, "workers": 1, "seed": 1}
ORDERED = {"next_track_is_meaningful": True}
VARIANTS = (
    "most_popular",
    "cooccurrence",
    "transitions",
    "sequential_rules",
    "cosine",
    "in_out",
    "knn",
    "knn_jaccard_sampled",
    "knn_idf",
    "ials",
    "blend",
)


def fit_every_kind() -> dict:
    """Variant name → fitted recommender; every registered kind is among them."""
    rows = relation(ROWS)
    index = build_track_index(rows)

    def fit(module, settings):
        return module.fit(rows, index, ORDERED, settings)[0]

    knn = playlist_knn.PlaylistKnnSettings
    fitted = {
        "most_popular": fit(most_popular, most_popular.MostPopularSettings()),
        "cooccurrence": fit(cooccurrence, cooccurrence.CooccurrenceSettings(window=2)),
        "transitions": fit(transitions, transitions.TransitionSettings()),
        "sequential_rules": fit(transitions, transitions.TransitionSettings(window=3)),
        "cosine": fit(word2vec, word2vec.Word2VecSettings(**W2V)),
        "in_out": fit(word2vec, word2vec.Word2VecSettings(**W2V, scoring="in_out")),
        "knn": fit(playlist_knn, knn(neighbours=10)),
        "knn_jaccard_sampled": fit(
            playlist_knn, knn(neighbours=5, similarity="jaccard", sample_size=20)
        ),
        "knn_idf": fit(playlist_knn, knn(neighbours=20, idf=True, vote_exponent=3.0)),
        "ials": fit(ials, ials.IalsSettings(factors=8, iterations=3, alpha=5.0)),
    }
    fitted["blend"] = blend.Blend(
        fitted["knn"].index,
        name="blend",
        # Two graph kinds: their graph_* variables must keep apart in the package.
        components=[fitted["cooccurrence"], fitted["transitions"], fitted["knn"], fitted["ials"]],
        weights=np.array([0.4, 0.1, 0.3, 0.2]),
        depth=15,
    )
    return fitted


def random_queries(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """Random seed lists of 1 to 5 tracks, with an unknown id, a repeated seed, and one
    request of unknowns only."""
    rng = np.random.default_rng(seed)
    seeds = [
        [f"A{t % 7}|||t{t}" for t in rng.choice(N_TRACKS, size=rng.integers(1, 6))]
        for _ in range(n)
    ]
    seeds[0] = ["nobody|||nothing"]
    seeds[1] = ["nobody|||nothing", seeds[1][0], seeds[1][0]]
    return pd.DataFrame(
        {"playlist_id": range(len(seeds)), "query": seeds, "target": ["x"] * len(seeds)}
    )


def write_package(recommender, path, k: int = 5, decay: float = 1.0, **serving):
    """``model.tar.gz`` of a recommender exactly as the deployment pipeline writes it (its
    ``package_serving_model`` node, the catalog's dataset); ``serving``: the handler's limits."""
    from music_recsys.core.protocol import EvaluationParams  # noqa: PLC0415
    from music_recsys.datasets import SageMakerModelArchiveDataset  # noqa: PLC0415
    from music_recsys.pipelines.deployment.nodes import package_serving_model  # noqa: PLC0415
    from music_recsys.pipelines.deployment.params import DeploymentParams  # noqa: PLC0415

    package = package_serving_model(
        recommender,
        {"candidate": recommender.name or recommender.kind},
        DeploymentParams(k=k, serving=serving),
        EvaluationParams(k=(10,), query_decay=decay),
    )
    dataset = SageMakerModelArchiveDataset(str(path))
    dataset.save(package)
    return dataset.load()
