"""The evaluation protocol and its queries."""

import pandas as pd
import pytest

from music_recsys.core.protocol import EvaluationParams, choose_protocol
from music_recsys.core.queries import build_queries
from music_recsys.duckdb_sql import relation
from tests.shared import playlists


@pytest.mark.parametrize(
    ("protocol", "meaningful", "expected"),
    [
        ("auto", False, "continuation"),
        ("auto", True, "next_track"),
        ("next_track", False, "next_track"),
    ],
)
def test_protocol_follows_the_order_check_unless_set(protocol, meaningful, expected):
    report = {"next_track_is_meaningful": meaningful, "explanation": "…"}
    chosen = choose_protocol(report, EvaluationParams(protocol=protocol))
    assert chosen["protocol"] == expected
    assert ("auto" in chosen["reason"]) == (protocol == "auto")


def test_position_weights_are_refused_on_rows_sorted_by_title():
    report = {"next_track_is_meaningful": False, "explanation": "sorted"}
    with pytest.raises(ValueError, match="query_decay"):
        choose_protocol(report, EvaluationParams(query_decay=0.8))
    assert choose_protocol(report, EvaluationParams())["protocol"] == "continuation"


def test_next_track_queries_end_right_before_the_last_track():
    queries = build_queries(
        relation(playlists("a b c d", "e f", "g")),
        {"protocol": "next_track"},
        EvaluationParams(query_length=2),
    )
    assert queries["query"].map(list).tolist() == [
        ["X|||b", "X|||c"],
        ["X|||e"],
    ]  # "g" alone: skipped
    assert queries["target"].tolist() == ["X|||d", "X|||f"]


def test_continuation_queries_hold_out_one_track_and_are_reproducible():
    rows = relation(playlists("a b c d e f", "g h i"))
    params = EvaluationParams(max_query_tracks=3, seed=5)
    queries = build_queries(rows, {"protocol": "continuation"}, params)
    for query, target, names in zip(
        queries["query"], queries["target"], ["a b c d e f", "g h i"], strict=True
    ):
        tracks = [f"X|||{n}" for n in names.split()]
        assert target in tracks and target not in list(query)
        assert len(query) == min(3, len(tracks) - 1)
        assert list(query) == [t for t in tracks if t in set(query)]  # playlist order kept
    pd.testing.assert_frame_equal(
        queries, build_queries(rows, {"protocol": "continuation"}, params)
    )


def test_at_most_max_queries_playlists_are_sampled():
    rows = relation(playlists(*["a b"] * 30))
    queries = build_queries(rows, {"protocol": "next_track"}, EvaluationParams(max_queries=7))
    assert len(queries) == 7 and queries["playlist_id"].is_unique
