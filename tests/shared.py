"""What the tests share: hand-made playlists, order-check reports, fitting any kind through
its contract, one small fitted recommender of every kind, packages built as the
deployment builds them, and a free port for a server. (Fixtures over these are in ``conftest.py``.)"""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd

from music_recsys.core.catalog import Query, TrackIndex
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import (
    FitInputs,
    Fitted,
    blend,
    cooccurrence,
    ials,
    kind,
    most_popular,
    playlist_knn,
    sequential_rules,
    word2vec,
)

ORDERED = {"next_track_is_meaningful": True, "explanation": "rows in play order"}
SORTED = {"next_track_is_meaningful": False, "explanation": "rows sorted by title"}


def free_port() -> int:
    """A port the OS has just handed out on loopback (for a server under test)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def playlists(*tracks_per_playlist: str) -> pd.DataFrame:
    """Rows from strings like "a b c": one playlist per string, tracks by one-letter name."""
    return pd.DataFrame(
        [
            (pid, pos, f"X|||{t}")
            for pid, names in enumerate(tracks_per_playlist)
            for pos, t in enumerate(names.split())
        ],
        columns=["playlist_id", "position", "track_id"],
    )


def q(*indices: int) -> Query:
    """A query of these catalog indices, oldest first."""
    return Query.of(np.array(indices, dtype=np.int64))


def small_index() -> TrackIndex:
    """Four tracks, most popular first, two of them tied: a b c d."""
    return TrackIndex(
        np.array(["A|||a", "A|||b", "B|||c", "C|||d"], dtype=object), np.array([9, 5, 5, 1])
    )


def fit(
    kind_name: str, rows, settings=None, report: dict = ORDERED, index=None, **inputs
) -> Fitted:
    """A kind fitted through its contract on ``rows`` (a frame or a relation), as the
    pipeline fits it; ``settings`` default to the kind's defaults, ``inputs`` are the other
    :class:`~music_recsys.kinds.contract.FitInputs` fields."""
    chosen = kind(kind_name)
    table = relation(rows) if isinstance(rows, pd.DataFrame) else rows
    index = build_track_index(table) if index is None else index
    settings = chosen.settings() if settings is None else settings
    fitted = chosen.fit(
        FitInputs(table, index, report, name=inputs.pop("name", kind_name), **inputs), settings
    )
    return fitted


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

    def fit_(module, settings):
        return fit(module.KIND.name, rows, settings, index=index).recommender

    knn = playlist_knn.PlaylistKnnSettings
    rules = sequential_rules.SequentialRulesSettings
    # Each variant weighs its queries by another recency (every weighting is served somewhere).
    fitted = {
        "most_popular": fit_(most_popular, most_popular.MostPopularSettings()),
        "cooccurrence": fit_(
            cooccurrence,
            cooccurrence.CooccurrenceSettings(window=2, recency="geometric", recency_decay=0.5),
        ),
        "transitions": fit_(sequential_rules, rules()),
        "sequential_rules": fit_(sequential_rules, rules(window=3, recency="quadratic")),
        "cosine": fit_(word2vec, word2vec.Word2VecSettings(**W2V, recency="log")),
        "in_out": fit_(word2vec, word2vec.Word2VecSettings(**W2V, scoring="in_out", recency="div")),
        "knn": fit_(
            playlist_knn,
            knn(neighbours=10, recency="linear", match_recency="div", position_decay=0.7),
        ),
        "knn_jaccard_sampled": fit_(
            playlist_knn,
            knn(
                neighbours=5,
                similarity="jaccard",
                sample_size=20,
                recency="geometric",
                recency_decay=0.3,
                match_recency="geometric",
                match_recency_decay=0.5,
            ),
        ),
        "knn_idf": fit_(
            playlist_knn, knn(neighbours=20, idf=True, vote_exponent=3.0, idf_vote=1.5)
        ),
        "ials": fit_(ials, ials.IalsSettings(factors=8, iterations=3, alpha=5.0, recency="div")),
    }
    fitted["blend"] = blend.model.Blend(
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


def write_package(recommender, path, k: int = 5, **serving):
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
        EvaluationParams(k=(10,)),
    )
    dataset = SageMakerModelArchiveDataset(str(path))
    dataset.save(package)
    return dataset.load()
