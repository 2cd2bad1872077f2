"""The evaluation protocol and its queries."""

import pandas as pd
import pytest

from music_recsys.core.protocol import EvaluationParams, choose_protocol
from music_recsys.core.queries import build_queries, last_track
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


def test_the_chosen_protocol_says_what_each_query_holds():
    report = {"next_track_is_meaningful": True, "explanation": "…"}
    assert "playlist so far" in choose_protocol(report, EvaluationParams())["query"]
    chosen = choose_protocol(report, EvaluationParams(protocol="continuation"))
    assert "rest of the playlist" in chosen["query"]


def test_next_track_queries_are_the_playlist_so_far_up_to_a_seeded_cut():
    names = ["a b c d e f g h", "i j", "k", "l m n o p"]
    rows = relation(playlists(*names))
    params = EvaluationParams(max_query_tracks=3, seed=4)
    queries = build_queries(rows, {"protocol": "next_track"}, params)
    assert queries["playlist_id"].tolist() == [0, 1, 3]  # "k" alone: nothing before any cut
    for query, target, pid in zip(
        queries["query"], queries["target"], queries["playlist_id"], strict=True
    ):
        tracks = [f"X|||{n}" for n in names[pid].split()]
        cut = tracks.index(target)
        assert cut >= 1  # at least one track before the cut
        assert list(query) == tracks[max(0, cut - 3) : cut]  # the last max_query_tracks before it
        assert target not in list(query)
    # Seeded: the same cuts again; another seed cuts elsewhere somewhere.
    pd.testing.assert_frame_equal(queries, build_queries(rows, {"protocol": "next_track"}, params))
    many = relation(playlists(*["a b c d e f g h i j"] * 40))
    cuts = [
        build_queries(many, {"protocol": "next_track"}, EvaluationParams(seed=s))["target"].tolist()
        for s in (0, 1)
    ]
    assert cuts[0] != cuts[1]
    assert len(set(cuts[0])) > 3  # cut points spread over the playlist, not always the end


def test_asked_with_the_last_track_keeps_the_target_and_only_the_last_query_track():
    queries = pd.DataFrame(
        {"playlist_id": [1, 2], "query": [["a", "b", "c"], ["d"]], "target": ["x", "y"]}
    )
    last = last_track(queries)
    assert last["query"].tolist() == [["c"], ["d"]] and last["target"].tolist() == ["x", "y"]


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
