"""Reporting nodes that are not pictures: which vectors to map, and the map itself."""

from __future__ import annotations

import pandas as pd

from music_recsys.pipelines.data_science.recommenders import Embedding, Recommender

from .analysis import project_latent_space
from .params import LatentSpaceParams


def latent_space(
    model_selection: dict,
    model_results: pd.DataFrame,
    track_genres: pd.DataFrame,
    latent_space: LatentSpaceParams,
    selected_recommender: Recommender,
    **word2vec_recommenders: Recommender,
) -> tuple[pd.DataFrame, dict]:
    """t-SNE of the selected model's track vectors, or of the best word2vec variant's.

    A baseline has no vectors to map: when one is selected, the word2vec variant with the best
    validation score is mapped instead, and the caption says so.

    Returns:
        The projection (``track_id``, ``x``, ``y``, ``genre``) and which model it shows.
    """
    if isinstance(selected_recommender, Embedding):
        name, model = model_selection["selected"], selected_recommender
        note = "The selected model's own vectors."
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
        model = word2vec_recommenders[name]
        note = (
            f"The selected model, {model_selection['selected']}, is a baseline without vectors; "
            f"shown instead: {name}, the best word2vec variant on validation."
        )
    keep = model.has_vector
    projection = project_latent_space(
        model.query_vectors[keep], model.index.track_ids[keep], track_genres, latent_space
    )
    return projection, {"model": name, "note": note}
