"""The deployment pipeline (not in the default run): refit, package, check, deploy.

``kedro run --pipelines deployment`` builds the Keras serving model from the selected
recommender, exports and archives it for SageMaker TensorFlow Serving, checks that it ranks as
evaluated, and deploys it only when ``deployment.sagemaker.enabled`` is true. With
``deployment.batch_transform`` set, a SageMaker Batch Transform of the checked package scores
the batch pipeline's playlists (``batch_input``) into ``batch_transform_recommendations``.
"""

from kedro.pipeline import Node, Pipeline

from music_recsys.pipelines.candidates import declared_with_tuning

from .nodes import (
    check_package,
    package_serving_model,
    rank_parity_queries,
    refit_for_deployment,
    request_batch_transform,
    request_deployment,
)


def create_pipeline(**kwargs) -> Pipeline:
    found, plan = declared_with_tuning()
    tuned = {f"{name}__tuned_settings": f"{name}.tuned_settings" for name in plan}
    return Pipeline(
        [
            Node(
                refit_for_deployment,
                {
                    "model_selection": "model_selection",
                    "playlist_tracks": "playlist_tracks",
                    "track_order_report": "track_order_report",
                    "evaluation_protocol": "evaluation_protocol",
                    "deployment": "params:deployment",
                    "parameters": "parameters",
                }
                | {name: f"{name}.recommender@loader" for name in found}
                | tuned,
                ["deployed_recommender@model", "deployment_info"],
                name="refit_for_deployment_node",
                tags="training",
            ),
            Node(
                package_serving_model,
                [
                    "deployed_recommender@model",
                    "deployment_info",
                    "params:deployment",
                    "params:evaluation",
                ],
                "model_archive",
                name="package_serving_model_node",
            ),
            # Two nodes, so that the shipped recommender is released before the SavedModel is
            # loaded (holding both was the full-size deployment's peak memory).
            Node(
                rank_parity_queries,
                [
                    "deployed_recommender@model",
                    "validation_queries",
                    "params:deployment",
                    "params:evaluation",
                ],
                "parity_expected",
                name="rank_parity_queries_node",
                tags="evaluation",
            ),
            Node(
                check_package,
                ["model_archive", "parity_expected"],
                "serving_check",
                name="check_package_node",
                tags="evaluation",
            ),
            Node(
                request_deployment,
                ["model_archive", "serving_check", "params:deployment"],
                "sagemaker_endpoint",
                name="deploy_to_sagemaker_node",
            ),
            Node(
                request_batch_transform,
                [
                    "model_archive",
                    "serving_check",
                    "batch_input",
                    "params:cleaning",
                    "params:deployment",
                    "params:evaluation",
                ],
                "batch_transform_recommendations",
                name="batch_transform_node",
            ),
        ],
        tags="deployment",
    )
