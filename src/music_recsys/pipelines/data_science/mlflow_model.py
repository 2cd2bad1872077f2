"""The selected recommender as an MLflow pyfunc model, registered under a stable name.

``mlflow.pyfunc.load_model("models:/music_recsys_recommender/latest").predict(...)`` answers
with the same ranking as the evaluation (it calls the same scoring code).
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from music_recsys.core.catalog import Query
from music_recsys.core.metrics import parse_metric
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.ranking import Recommender


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: seed track ids in, top-K track ids and scores out.

    Input: a frame with a ``seed_track_ids`` column (one list of ``<artist>|||<track>`` ids per
    row: the playlist so far, oldest first, weighed by the recommender's recency) and,
    optionally, ``k`` (recommendations for that row; default ``k``).
    Output: a frame with ``track_ids`` and ``scores`` (lists, best first).
    """

    def __init__(self, recommender: Recommender, k: int = 10) -> None:
        self.recommender = recommender
        self.k = k

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        index = self.recommender.index
        wanted = (
            model_input["k"].astype(int).tolist()
            if "k" in model_input
            else [self.k] * len(model_input)
        )
        queries = [Query.of(index.lookup(list(seeds))) for seeds in model_input["seed_track_ids"]]
        top, scores, _ = self.recommender.rank(queries, max(wanted, default=self.k))
        rows = []
        for ranked, values, k in zip(top, scores, wanted, strict=True):
            real = ranked >= 0
            shown, shown_scores = ranked[real][:k], values[real][:k]
            rows.append((index.track_ids[shown].tolist(), shown_scores.astype(float).tolist()))
        return pd.DataFrame(rows, columns=["track_ids", "scores"])


def package_for_mlflow(
    selected_recommender: Recommender, evaluation: EvaluationParams
) -> RecommenderModel:
    """Wraps the selected recommender for MLflow's model registry (the catalog logs it)."""
    return RecommenderModel(selected_recommender, k=parse_metric(evaluation.selection_metric)[1])
