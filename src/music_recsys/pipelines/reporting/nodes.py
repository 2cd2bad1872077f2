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
    **with_vectors: Callable[[], Recommender],
) -> tuple[pd.DataFrame, dict]:
    """t-SNE of the selected model's track vectors, or of the best candidate's that has some.

    Not every kind has track vectors (kNN ranks by neighbouring playlists, the graphs by
    links): when the selected one has none, the candidate with vectors that scores best on
    validation is mapped instead, and the caption says so. ``with_vectors`` holds a loader per
    candidate whose kind has track vectors (``<candidate>.recommender@loader``); only the mapped
    one is loaded.

    Returns:
        The projection (``track_id``, ``x``, ``y``, ``genre``) and which model it shows.
    """
    selected = model_selection["selected"]
    if selected in with_vectors:
        name, note = selected, f"The selected model's own vectors ({selected})."
    else:
        validation = model_results[
            (model_results["split"] == "validation")
            & model_results["candidate"].isin(list(with_vectors))
        ]
        if validation.empty:
            return pd.DataFrame(columns=["track_id", "x", "y", "genre"]), {
                "model": "none",
                "note": "No candidate with track vectors ran.",
            }
        ranked = validation.sort_values(model_selection["metric"], ascending=False)
        name = ranked["candidate"].iloc[0]
        selected_kind = model_results.loc[model_results["candidate"] == selected, "kind"].iloc[0]
        note = (
            f"The selected model, {selected} ({selected_kind}), has no track vectors; shown "
            f"instead: {name}, the candidate with vectors that scores best on validation."
        )
    model = with_vectors[name]()
    mapped = np.flatnonzero(model.has_vector)[: latent_space.n_tracks]  # the most frequent
    projection = project_latent_space(
        model.query_vectors[mapped], model.index.track_ids[mapped], track_genres, latent_space
    )
    return projection, {"model": name, "note": note}
