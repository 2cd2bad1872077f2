"""The batch pipeline (not in the default run): the next tracks of every playlist at once.

``kedro run --pipelines batch`` reads the playlists (the run's primary layer, or
``--params batch_input=<file>``), accounts for every row, asks the deployed (or selected)
recommender for each playlist's next ``batch.k`` tracks and writes them, part by part, to
``data/07_model_output/batch_recommendations.parquet/``. ``--env spark`` runs the same nodes
on Spark.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    clean_batch_input,
    playlists_so_far,
    read_batch_playlists,
    recommend_next_tracks,
    summarize_batch,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                clean_batch_input,
                ["batch_input", "params:cleaning"],
                "batch_clean_rows",
                name="clean_batch_input_node",
            ),
            Node(
                read_batch_playlists,
                "batch_clean_rows",
                ["batch_playlist_tracks", "batch_row_accounting", "batch_rejected_rows"],
                name="read_batch_playlists_node",
            ),
            Node(
                playlists_so_far,
                ["batch_playlist_tracks", "params:evaluation"],
                "batch_queries",
                name="playlists_so_far_node",
            ),
            Node(
                recommend_next_tracks,
                [
                    "batch_queries",
                    "deployed_recommender@loader",
                    "selected_recommender@loader",
                    "params:batch",
                    "params:evaluation",
                ],
                "batch_recommendations",
                name="recommend_next_tracks_node",
            ),
            Node(
                summarize_batch,
                ["batch_recommendations", "batch_queries", "batch_row_accounting", "params:batch"],
                "batch_summary",
                name="summarize_batch_node",
            ),
        ],
        tags="batch",
    )
