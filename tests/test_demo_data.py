import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from music_recsys.datasets import PlaylistCsvDataset
from music_recsys.demo_data import DemoDataParams, generate_demo_playlists
from music_recsys.duckdb_sql import to_pandas
from music_recsys.pipelines.data_processing.nodes import parse_playlist_lines

SMALL = {"path": "unused.csv", "n_users": 60, "n_playlists": 400, "n_artists": 300}


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return generate_demo_playlists(DemoDataParams(**SMALL))


def test_same_parameters_give_the_same_data(demo):
    pd.testing.assert_frame_equal(demo, generate_demo_playlists(DemoDataParams(**SMALL)))
    assert not demo.equals(generate_demo_playlists(DemoDataParams(**SMALL, seed=1)))


def test_rows_are_in_the_real_file_order(demo):
    for (_, _), playlist in demo.groupby(["user_id", "playlistname"], sort=False):
        titles = playlist["trackname"].tolist()
        assert titles == sorted(titles)  # code-point order, as in the real file
    # a user's rows are contiguous, and so are a playlist's
    blocks = (demo["user_id"] != demo["user_id"].shift()).cumsum()
    assert demo.groupby("user_id").apply(lambda g: blocks[g.index].nunique()).max() == 1


def test_demo_has_the_character_of_the_real_file(demo):
    lengths = demo.groupby(["user_id", "playlistname"]).size()
    assert lengths.max() > 4 * lengths.median()  # heavy-tailed playlist lengths
    artist_counts = demo.loc[demo["artistname"] != "", "artistname"].value_counts()
    top_share = artist_counts.iloc[: len(artist_counts) // 100 + 1].sum() / artist_counts.sum()
    assert top_share > 0.05  # the top 1% of artists hold far more than 1% of rows
    assert demo["user_id"].nunique() > 30
    assert demo["user_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert demo["trackname"].str.contains('"').any()  # unescaped inner quotes
    assert (demo["artistname"] == "").any() or len(demo) < 5000
    names = demo["playlistname"].str.lower()
    assert names.str.contains("rock").any() and names.str.contains("chill").any()


def test_demo_file_reads_back_exactly(demo, tmp_path):
    path = tmp_path / "demo.csv"
    PlaylistCsvDataset(str(path)).save(demo)
    lines = to_pandas(parse_playlist_lines(PlaylistCsvDataset(str(path)).load()))
    assert (lines["outcome"] == "parsed").all()
    assert len(lines) == len(demo)
    parsed = lines
    got = parsed[["user_id", "artistname", "trackname", "playlistname"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, demo, check_dtype=False)
    assert np.array_equal(parsed["line_number"], np.arange(2, len(demo) + 2))


def test_demo_parameters_are_validated():
    with pytest.raises(ValidationError):
        DemoDataParams(**SMALL, n_playlsts=3)
    with pytest.raises(ValidationError, match="one per scene"):
        DemoDataParams(**{**SMALL, "n_artists": 5})
