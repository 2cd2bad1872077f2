"""What ships: the selected candidate or deployment.candidate, refit or as evaluated."""

import numpy as np
import pandas as pd
import pytest

from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.blend.model import Blend
from music_recsys.kinds.cooccurrence import CooccurrenceSettings
from music_recsys.kinds.playlist_knn import PlaylistKnnSettings
from music_recsys.pipelines.deployment.nodes import refit_for_deployment
from music_recsys.pipelines.deployment.params import DeploymentParams
from tests.shared import ORDERED, fit

ROWS = pd.DataFrame(
    [
        (p, pos, f"X|||{t}")
        for p, names in enumerate(["a b c", "b c d", "a c e", "d e f", "a f"] * 3)
        for pos, t in enumerate(names.split())
    ],
    columns=["playlist_id", "position", "track_id"],
)
TRAIN = ROWS[ROWS["playlist_id"] < 10]
PARAMETERS = {
    "cooccurrence": {"cooccurrence": {"window": 2}},
    "playlist_knn": {"playlist_knn": {"neighbours": 3}},
    "blend": {"blend": {"components": ["cooccurrence", "playlist_knn"]}},
}
SELECTION = {"selected": "blend", "explanation": "blend won"}


@pytest.fixture
def evaluated():
    train = relation(TRAIN)
    index = build_track_index(train)
    fitted = {
        "cooccurrence": fit(
            "cooccurrence", train, CooccurrenceSettings(window=2), index=index
        ).recommender,
        "playlist_knn": fit(
            "playlist_knn", train, PlaylistKnnSettings(neighbours=3), index=index
        ).recommender,
    }
    fitted["blend"] = Blend(
        index=fitted["cooccurrence"].index,
        name="blend",
        components=[fitted["cooccurrence"], fitted["playlist_knn"]],
        weights=np.array([0.7, 0.3]),
        depth=10,
    )
    return {name: (lambda m=model: m) for name, model in fitted.items()}


def ship(evaluated, **deployment):
    return refit_for_deployment(
        SELECTION,
        relation(ROWS),
        ORDERED,
        {"protocol": "next_track"},
        DeploymentParams(**deployment),
        PARAMETERS,
        **evaluated,
    )


def test_the_selected_blend_is_refit_on_every_playlist_with_its_evaluated_weights(evaluated):
    model, info = ship(evaluated)
    assert info["candidate"] == "blend" and info["fit"].startswith("all playlists")
    assert [c.name for c in model.components] == ["cooccurrence", "playlist_knn"]
    np.testing.assert_array_equal(model.weights, [0.7, 0.3])
    assert model.components[1].playlists.shape[0] == ROWS["playlist_id"].nunique()


def test_deployment_candidate_ships_another_candidate_and_says_so(evaluated):
    model, info = ship(evaluated, candidate="playlist_knn")
    assert model.kind == "playlist_knn" and model.name == "playlist_knn"
    assert "instead of the selected 'blend'" in info["selection"]
    model, info = ship(evaluated, candidate="cooccurrence", refit_on_all_data=False)
    assert info["fit"].startswith("training playlists only") and model.name == "cooccurrence"


def test_an_unknown_deployment_candidate_is_named_with_the_known_ones(evaluated):
    with pytest.raises(ValueError, match="'nope', which is not a candidate; candidates: blend"):
        ship(evaluated, candidate="nope")


def test_the_refit_uses_the_tuned_settings_of_the_shipped_candidate_and_its_components(evaluated):
    tuned = {
        "cooccurrence__tuned_settings": {"window": 1, "normalisation": "cosine"},
        "playlist_knn__tuned_settings": PlaylistKnnSettings(neighbours=2).model_dump(),
    }
    model, info = ship(evaluated | tuned)
    knn = model.components[1]
    assert knn.neighbours == 2 and model.components[0].graph.dtype == np.float32
    conf_model, _ = ship(evaluated)
    assert conf_model.components[1].neighbours == 3
    assert (model.components[0].graph != conf_model.components[0].graph).nnz > 0
    shipped, info = ship(evaluated | tuned, candidate="playlist_knn")
    assert shipped.neighbours == 2 and info["settings"]["neighbours"] == 2
