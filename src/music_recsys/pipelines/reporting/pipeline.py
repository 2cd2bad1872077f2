"""The reporting pipeline: distributions, power law, model comparison, latent space, report."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from music_recsys.pipelines.candidates import declared_with_tuning

from .analysis import infer_track_genres, power_law_metrics, power_law_summary
from .nodes import latent_space
from .plots import (
    plot_coverage_vs_hit_rate,
    plot_hit_rate_by_popularity,
    plot_latent_space,
    plot_metric_curves,
    plot_popularity_distributions,
    plot_power_law,
    plot_row_accounting,
)
from .report import build_report

PLOTS = (
    "row_accounting_plot",
    "popularity_distributions_plot",
    "power_law_plot",
    "metric_curves_plot",
    "hit_rate_by_popularity_plot",
    "coverage_vs_hit_rate_plot",
    "latent_space_plot",
)


def create_pipeline(**kwargs) -> Pipeline:
    found, plan = declared_with_tuning()
    with_vectors = [n for n, c in found.items() if c.kind.has_track_vectors]
    tuned = any(role == "tuned" for role in plan.values())
    return Pipeline(
        [
            Node(
                power_law_summary,
                ["tracks", "params:power_law"],
                "power_law_fits",
                name="fit_power_laws_node",
            ),
            Node(
                power_law_metrics,
                "power_law_fits",
                "power_law_metrics",
                name="log_power_law_metrics_node",
                tags="tracking",
            ),
            Node(
                infer_track_genres,
                ["playlist_tracks", "playlists", "params:genres"],
                "track_genres",
                name="infer_track_genres_node",
            ),
            Node(
                latent_space,
                {
                    "model_selection": "model_selection",
                    "model_results": "model_results",
                    "track_genres": "track_genres",
                    "latent_space": "params:latent_space",
                }
                | {name: f"{name}.recommender@loader" for name in with_vectors},
                ["latent_projection", "latent_space_info"],
                name="project_latent_space_node",
            ),
            Node(
                plot_row_accounting,
                "row_accounting",
                "row_accounting_plot",
                name="plot_row_accounting_node",
                tags="plots",
            ),
            Node(
                plot_popularity_distributions,
                "tracks",
                "popularity_distributions_plot",
                name="plot_popularity_node",
                tags="plots",
            ),
            Node(
                plot_power_law,
                ["tracks", "power_law_fits", "params:power_law"],
                "power_law_plot",
                name="plot_power_law_node",
                tags="plots",
            ),
            Node(
                plot_metric_curves,
                ["model_results", "model_selection"],
                "metric_curves_plot",
                name="plot_metric_curves_node",
                tags="plots",
            ),
            Node(
                plot_hit_rate_by_popularity,
                ["model_results", "model_selection"],
                "hit_rate_by_popularity_plot",
                name="plot_hit_rate_by_popularity_node",
                tags="plots",
            ),
            Node(
                plot_coverage_vs_hit_rate,
                ["model_results", "model_selection"],
                "coverage_vs_hit_rate_plot",
                name="plot_coverage_vs_hit_rate_node",
                tags="plots",
            ),
            Node(
                plot_latent_space,
                ["latent_projection", "latent_space_info"],
                "latent_space_plot",
                name="plot_latent_space_node",
                tags="plots",
            ),
            Node(
                build_report,
                [
                    "row_accounting",
                    "track_order_report",
                    "split_summary",
                    "power_law_fits",
                    "evaluation_protocol",
                    "model_selection",
                    "model_results",
                    "latent_space_info",
                    *PLOTS,
                    *(["tuning_results"] if tuned else []),
                ],
                "report",
                name="build_report_node",
            ),
        ],
        tags="reporting",
    )
