"""The data_processing pipeline: parse, clean, filter, check order, split, account."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    account_for_rows,
    build_track_table,
    check_track_order,
    clean_playlist_rows,
    collect_rejected_rows,
    data_processing_metrics,
    filter_playlists,
    parse_playlist_lines,
    split_playlists,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                parse_playlist_lines,
                inputs="raw_playlists",
                outputs="parsed_lines",
                name="parse_playlist_lines_node",
                tags="parsing",
            ),
            Node(
                clean_playlist_rows,
                inputs=["parsed_lines", "params:cleaning"],
                outputs="clean_rows",
                name="clean_playlist_rows_node",
                tags="cleaning",
            ),
            Node(
                filter_playlists,
                inputs=["clean_rows", "params:filters"],
                outputs=["playlist_tracks", "playlists", "filter_summary"],
                name="filter_playlists_node",
                tags="cleaning",
            ),
            Node(
                build_track_table,
                inputs="playlist_tracks",
                outputs="tracks",
                name="build_track_table_node",
            ),
            Node(
                check_track_order,
                inputs=["playlist_tracks", "params:order_check"],
                outputs="track_order_report",
                name="check_track_order_node",
                tags="data_checks",
            ),
            Node(
                split_playlists,
                inputs=["playlist_tracks", "playlists", "params:split"],
                outputs=[
                    "playlists_train",
                    "playlists_validation",
                    "playlists_test",
                    "split_summary",
                ],
                name="split_playlists_node",
                tags="splitting",
            ),
            Node(
                account_for_rows,
                inputs=["clean_rows", "filter_summary"],
                outputs="row_accounting",
                name="account_for_rows_node",
                tags="data_checks",
            ),
            Node(
                collect_rejected_rows,
                inputs="clean_rows",
                outputs="rejected_rows",
                name="collect_rejected_rows_node",
                tags="data_checks",
            ),
            Node(
                data_processing_metrics,
                inputs=["row_accounting", "track_order_report", "split_summary"],
                outputs="data_processing_metrics",
                name="data_processing_metrics_node",
                tags="data_checks",
            ),
        ]
    )
