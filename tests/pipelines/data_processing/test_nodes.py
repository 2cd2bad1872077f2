import math

import pandas as pd
import pytest
from pydantic import ValidationError

from music_recsys.datasets import PlaylistCsvDataset
from music_recsys.duckdb_sql import relation, to_pandas
from music_recsys.pipelines.data_processing.nodes import (
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
from music_recsys.pipelines.data_processing.params import (
    CleaningParams,
    FilterParams,
    OrderCheckParams,
    SplitParams,
)
from tests.conftest import QUIRK_LINES, expected_rejections, expected_rows


def _parse(path) -> pd.DataFrame:
    return to_pandas(parse_playlist_lines(PlaylistCsvDataset(str(path)).load()))


def _parsed(records) -> pd.DataFrame:
    """Parsed lines as parse_playlist_lines makes them, from (user, artist, track, playlist)."""
    frame = pd.DataFrame(records, columns=["user_id", "artistname", "trackname", "playlistname"])
    frame.insert(0, "line_number", range(2, len(frame) + 2))
    frame["outcome"] = "parsed"
    frame["quoting"] = "quoted"
    for column in ("reason", "detail", "line"):
        frame[column] = pd.Series([None] * len(frame), dtype="object")
    return frame


def _clean(records, cleaning=None) -> pd.DataFrame:
    return to_pandas(clean_playlist_rows(relation(_parsed(records)), cleaning or CleaningParams()))


def _kept(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["outcome"] == "kept"].reset_index(drop=True)


# --- parsing -----------------------------------------------------------------------------------


def test_parse_recovers_every_quirk_with_its_exact_values(quirks_file):
    lines = _parse(quirks_file)
    parsed = lines[lines["outcome"] == "parsed"]
    got = {
        row.line_number: (row.user_id, row.artistname, row.trackname, row.playlistname)
        for row in parsed.itertuples()
    }
    assert got == expected_rows()


def test_parse_sets_aside_what_cannot_be_parsed_with_line_and_reason(quirks_file):
    lines = _parse(quirks_file)
    unparseable = lines[lines["outcome"] == "rejected"]
    assert (
        dict(zip(unparseable["line_number"], unparseable["reason"], strict=True))
        == expected_rejections()
    )
    wrong = unparseable.set_index("line_number").loc[12]
    assert wrong["detail"] == 'found 5 fields separated by "," instead of 4'
    assert wrong["line"] == '"u2","a","b","c","d"'


def test_parse_gives_every_line_exactly_one_outcome(quirks_file):
    lines = _parse(quirks_file)
    n_blank = sum(1 for _, want in QUIRK_LINES if want == "blank")
    assert lines["line_number"].tolist() == list(range(2, len(QUIRK_LINES) + 2))
    assert lines["outcome"].value_counts().to_dict() == {
        "parsed": len(expected_rows()),
        "rejected": 4,
        "blank_line": n_blank,
    }
    rejected = lines[lines["outcome"] == "rejected"]
    assert rejected["reason"].value_counts().to_dict() == {
        "wrong_field_count": 2,
        "invalid_utf8": 1,
        "malformed_quoting": 1,
    }
    parsed = lines[lines["outcome"] == "parsed"]
    assert parsed["quoting"].value_counts().to_dict() == {
        "quoted": 6,
        "inner_quotes": 5,
        "rfc4180": 2,
    }
    assert parsed["reason"].isna().all() and parsed["line"].isna().all()


def test_parse_labels_how_each_row_was_read(quirks_file):
    quoting = _parse(quirks_file).set_index("line_number")["quoting"]
    assert quoting[2] == "quoted"
    assert quoting[3] == "inner_quotes"
    assert quoting[13] == "rfc4180"  # unquoted fields
    assert quoting[14] == "rfc4180"  # doubled quotes
    assert quoting[6] == "quoted"  # an empty field "" is not an inner quote


# --- cleaning ----------------------------------------------------------------------------------


def test_clean_trims_names_and_keeps_the_exact_playlist_name():
    clean = _clean([("u1 ", "  Padded Artist ", "\tSong  ", "mix "), ("u1", "A", "B", "mix")])
    assert clean["artistname"].tolist() == ["Padded Artist", "A"]
    assert clean["trackname"].tolist() == ["Song", "B"]
    assert clean["playlist_key"].tolist() == ["mix ", "mix"]  # the exact name identifies a playlist
    assert clean["user_id"].tolist() == ["u1", "u1"]
    assert clean["outcome"].tolist() == ["kept", "kept"]


def test_track_ids_are_artist_and_title_and_playlist_names_are_trimmed():
    tracks, playlists, _ = _filter(
        [("u1 ", "  Padded Artist ", "\tSong  ", "mix "), ("u1", "A", "B", "mix ")]
    )
    assert tracks["track_id"].tolist() == ["Padded Artist|||Song", "A|||B"]
    assert playlists["playlistname"].tolist() == ["mix"]


def test_clean_rejects_names_holding_the_separator_instead_of_merging_them():
    clean = _clean(
        [
            ("u", "Odd|||Artist", "Song", "p"),
            ("u", "Odd", "Artist|||Song", "p"),
            ("u", "A", "B", "p"),
        ]
    )
    assert _kept(clean)[["artistname", "trackname"]].values.tolist() == [["A", "B"]]
    rejected = clean[clean["outcome"] == "rejected"]
    assert rejected["line_number"].tolist() == [2, 3]
    assert set(rejected["reason"]) == {"separator_in_name"}


@pytest.mark.parametrize(
    ("empty_artist", "empty_track", "kept", "filtered"),
    [
        ("keep", "drop", ["|||Local file", "A|||B"], {"empty_track": 1}),
        ("drop", "drop", ["A|||B"], {"empty_track": 1, "empty_artist": 1}),
        ("keep", "keep", ["|||Local file", "Artist|||", "A|||B"], {}),
        ("drop", "keep", ["Artist|||", "A|||B"], {"empty_artist": 1}),
    ],
)
def test_empty_names_are_kept_or_dropped_and_counted(empty_artist, empty_track, kept, filtered):
    records = [("u", "", "Local file", "p"), ("u", "Artist", " ", "p"), ("u", "A", "B", "p")]
    clean = _clean(records, CleaningParams(empty_artist=empty_artist, empty_track=empty_track))
    tracks, _, _ = filter_playlists(relation(clean), FilterParams(min_playlist_length=1))
    assert to_pandas(tracks)["track_id"].tolist() == kept
    dropped = clean.loc[clean["outcome"] == "filtered", "reason"]
    assert dropped.value_counts().to_dict() == filtered


# --- filtering ---------------------------------------------------------------------------------


def _filter(records, filters=None):
    tracks, playlists, summary = filter_playlists(
        relation(_clean(records)), filters or FilterParams()
    )
    return to_pandas(tracks), playlists, summary


def test_filters_drop_rare_tracks_first_then_short_playlists_and_count_both():
    records = [
        ("u1", "A", "x", "p1"), ("u1", "A", "y", "p1"), ("u1", "A", "rare", "p1"),
        ("u2", "A", "x", "p2"), ("u2", "A", "lonely", "p2"),
        ("u3", "A", "x", "p3"), ("u3", "A", "y", "p3"),
    ]  # fmt: skip
    tracks, playlists, summary = _filter(
        records, FilterParams(min_track_frequency=2, min_playlist_length=2)
    )
    assert summary["filtered"] == {"rare_track": 2, "short_playlist": 1}
    assert summary["rows_out"] == len(tracks) == 4
    assert playlists["playlistname"].tolist() == ["p1", "p3"]
    assert playlists["playlist_id"].tolist() == [0, 1]
    assert playlists["n_tracks"].tolist() == [2, 2]


def test_playlists_are_numbered_by_first_appearance_and_positions_follow_the_file():
    tracks, playlists, _ = _filter(
        [("u2", "A", "b", "z"), ("u1", "A", "a", "p"), ("u2", "A", "a", "z"), ("u1", "A", "c", "p")]
    )
    assert playlists[["playlist_id", "user_id", "playlistname"]].values.tolist() == [
        [0, "u2", "z"],
        [1, "u1", "p"],
    ]
    assert tracks[["playlist_id", "position", "track_id"]].values.tolist() == [
        [0, 0, "A|||b"],
        [0, 1, "A|||a"],
        [1, 0, "A|||a"],
        [1, 1, "A|||c"],
    ]


def test_playlists_whose_names_differ_only_by_spaces_are_not_merged():
    _, playlists, _ = _filter(
        [
            ("u", "A", "a", "mix"),
            ("u", "A", "b", "mix"),
            ("u", "A", "c", "mix "),
            ("u", "A", "d", "mix "),
        ]
    )
    assert len(playlists) == 2


def test_filters_that_leave_nothing_fail_with_a_message_naming_them():
    with pytest.raises(ValueError, match="min_playlist_length=2"):
        _filter([("u", "A", "a", "p")])


def test_track_table_counts_rows_and_playlists():
    tracks, _, _ = _filter(
        [("u", "A", "a", "p"), ("u", "A", "b", "p"), ("v", "A", "a", "q"), ("v", "A", "c", "q")]
    )
    table = to_pandas(build_track_table(relation(tracks)))
    columns = ["track_id", "artistname", "trackname", "n_rows", "n_playlists"]
    assert table.iloc[0][columns].tolist() == ["A|||a", "A", "a", 2, 2]
    assert len(table) == 3


# --- order check -------------------------------------------------------------------------------


def _tracks(playlists: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (pid, pos, f"A|||{name}", name)
            for pid, names in enumerate(playlists)
            for pos, name in enumerate(names)
        ],
        columns=["playlist_id", "position", "track_id", "trackname"],
    )


def test_order_check_finds_title_sorted_playlists():
    report = check_track_order(
        _tracks([["a", "b", "c"], ["B", "a"], ["x", "y"], ["solo"]]),
        OrderCheckParams(sorted_share_threshold=0.9),
    )
    assert report["playlists_checked"] == 3  # one-track playlists say nothing
    assert report["playlists_sorted_by_track_name"] == 3  # code-point order: "B" < "a"
    assert report["row_order"] == "sorted_by_track_name"
    assert report["next_track_is_meaningful"] is False
    assert report["sorted_share_expected_by_chance"] == pytest.approx((1 / 6 + 1 / 2 + 1 / 2) / 3)


def test_order_check_calls_unsorted_rows_play_order():
    report = check_track_order(
        _tracks([["b", "a", "c"], ["y", "x"], ["a", "b"]]),
        OrderCheckParams(sorted_share_threshold=0.9),
    )
    assert report["sorted_share"] == pytest.approx(1 / 3)
    assert report["row_order"] == "as_listed"
    assert report["next_track_is_meaningful"] is True
    assert "play order" in report["explanation"]


# --- split -------------------------------------------------------------------------------------


@pytest.fixture
def many_playlists():
    playlists = [[f"t{(p * 7 + i) % 50}" for i in range(3 + p % 4)] for p in range(200)]
    tracks = _tracks(playlists)
    ids = pd.DataFrame(
        {
            "playlist_id": range(200),
            "user_id": [f"user{p % 30}" for p in range(200)],
            "playlistname": [f"list {p}" for p in range(200)],
            "n_tracks": [len(p) for p in playlists],
        }
    )
    return tracks, ids


def _split(tracks, ids, params):
    train, validation, test, summary = split_playlists(relation(tracks), ids, params)
    return to_pandas(train), to_pandas(validation), to_pandas(test), summary


def test_split_keeps_each_playlist_whole_in_exactly_one_split(many_playlists):
    tracks, ids = many_playlists
    train, validation, test, summary = _split(tracks, ids, SplitParams())
    sets = [set(frame["playlist_id"]) for frame in (train, validation, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert set().union(*sets) == set(range(200))
    assert len(train) + len(validation) + len(test) == len(tracks)
    for frame in (train, validation, test):
        whole = tracks[tracks["playlist_id"].isin(frame["playlist_id"])]
        assert len(whole) == len(frame)
    assert [summary[name]["playlists"] for name in ("train", "validation", "test")] == [140, 40, 20]
    assert [summary[name]["rows"] for name in ("train", "validation", "test")] == [
        len(train),
        len(validation),
        len(test),
    ]
    assert train.columns.tolist() == ["playlist_id", "position", "track_id"]


def test_split_is_reproducible_and_depends_on_the_seed(many_playlists):
    tracks, ids = many_playlists
    first = _split(tracks, ids, SplitParams(seed=1))
    again = _split(tracks, ids, SplitParams(seed=1))
    other = _split(tracks, ids, SplitParams(seed=2))
    for a, b in zip(first[:3], again[:3], strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert set(first[2]["playlist_id"]) != set(other[2]["playlist_id"])


def test_split_parameters_are_validated():
    with pytest.raises(ValidationError, match="must be 1"):
        SplitParams(train=0.7, validation=0.2, test=0.2)
    with pytest.raises(ValidationError, match="Extra inputs"):
        SplitParams.model_validate({"seed": 1, "train": 0.7, "validation": 0.2, "tset": 0.1})


# --- accounting --------------------------------------------------------------------------------


def test_row_accounting_adds_up_on_the_quirks_file(quirks_file):
    parsed = parse_playlist_lines(PlaylistCsvDataset(str(quirks_file)).load())
    clean = clean_playlist_rows(parsed, CleaningParams())  # lazy, on the raw file's connection
    clean = relation(to_pandas(clean))  # as the catalog hands it over: stored, on the shared one
    tracks, playlists, filter_summary = filter_playlists(
        clean, FilterParams(min_track_frequency=1, min_playlist_length=2)
    )
    table = account_for_rows(clean, filter_summary)
    counts = table.groupby(["outcome", "reason"])["rows"].sum().to_dict()
    assert counts == {
        ("read", "lines after the header"): len(QUIRK_LINES),
        ("filtered", "blank_line"): 2,
        ("rejected", "invalid_utf8"): 1,
        ("rejected", "wrong_field_count"): 2,
        ("rejected", "malformed_quoting"): 1,
        ("rejected", "separator_in_name"): 1,
        ("filtered", "empty_track"): 1,
        ("filtered", "rare_track"): 0,
        ("filtered", "short_playlist"): 1,  # u2's '"/' keeps one track
        ("kept", "in playlist_tracks"): len(to_pandas(tracks)),
    }
    read = table.loc[table["outcome"] == "read", "rows"].sum()
    assert read == table.loc[table["outcome"] != "read", "rows"].sum()

    rejects = collect_rejected_rows(clean)
    separator_line = next(n for n, (raw, _) in enumerate(QUIRK_LINES, start=2) if b"|||" in raw)
    assert rejects["line_number"].tolist() == sorted([*expected_rejections(), separator_line])
    assert set(rejects["reason"]) == {
        "invalid_utf8",
        "wrong_field_count",
        "malformed_quoting",
        "separator_in_name",
    }

    split = {name: {"playlists": 1, "rows": 1} for name in ("train", "validation", "test")}
    order = check_track_order(tracks, OrderCheckParams())
    metrics = data_processing_metrics(table, order, split)
    assert metrics["rows_read"] == [{"value": float(len(QUIRK_LINES)), "step": 0}]
    assert metrics["rows_rejected.separator_in_name"][0]["value"] == 1.0
    assert math.isclose(
        metrics["rows_kept"][0]["value"]
        + metrics["rows_rejected"][0]["value"]
        + metrics["rows_filtered"][0]["value"],
        metrics["rows_read"][0]["value"],
    )


def test_row_accounting_refuses_counts_that_do_not_add_up():
    clean = relation(
        pd.DataFrame(
            {
                "line_number": [2, 3],
                "stage": ["clean", "clean"],
                "outcome": ["kept", "kept"],
                "reason": [None, None],
            }
        )
    )
    with pytest.raises(RuntimeError, match="does not add up"):
        account_for_rows(clean, {"filtered": {"short_playlist": 0}, "rows_out": 1})
