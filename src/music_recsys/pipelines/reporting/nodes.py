"""Reporting nodes that are not pictures: which vectors to map, and the map itself."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from music_recsys.core.ranking import Recommender

from .analysis import project_latent_space
from .params import LatentSpaceParams


def latent_space(
    model_selection: dict,
    model_results: pd.DataFrame,
    track_genres: pd.DataFrame,
    latent_space: LatentSpaceParams,
    **word2vec_recommenders: Callable[[], Recommender],
) -> tuple[pd.DataFrame, dict]:
    """t-SNE of the selected model's track vectors, or of the best word2vec variant's.

    A baseline has no vectors to map: when one is selected, the word2vec variant with the best
    validation score is mapped instead, and the caption says so. Only the mapped model is
    loaded (the arguments are loaders, ``<variant>.recommender@loader``).

    Returns:
        The projection (``track_id``, ``x``, ``y``, ``genre``) and which model it shows.
    """
    selected = model_selection["selected"]
    if selected in word2vec_recommenders:
        name, note = selected, "The selected model's own vectors."
    else:
        validation = model_results[
            (model_results["split"] == "validation") & (model_results["kind"] == "word2vec")
        ]
        if validation.empty:
            return pd.DataFrame(columns=["track_id", "x", "y", "genre"]), {
                "model": "none",
                "note": "No word2vec variant ran.",
            }
        name = validation.sort_values(model_selection["metric"], ascending=False)["candidate"].iloc[
            0
        ]
        note = (
            f"The selected model, {selected}, is a baseline without vectors; "
            f"shown instead: {name}, the best word2vec variant on validation."
        )
    model = word2vec_recommenders[name]()
    mapped = np.flatnonzero(model.has_vector)[: latent_space.n_tracks]  # the most frequent
    projection = project_latent_space(
        model.query_vectors[mapped], model.index.track_ids[mapped], track_genres, latent_space
    )
    return projection, {"model": name, "note": note}
