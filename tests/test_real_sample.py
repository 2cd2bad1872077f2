"""Checks against the first 10,000 rows of the real Spotify file, where the checkout has them.

The sample is not part of this repository (it may not be redistributed, so it is never copied
here); the maintainers keep it in ../shared/data beside the checkout, and a clone without it
skips these tests. Tests that must pass everywhere use tests/conftest.py.
"""

import csv

import pytest

from music_recsys.datasets import PlaylistCsvDataset
from music_recsys.duckdb_sql import to_pandas
from music_recsys.pipelines.data_processing.nodes import parse_playlist_lines
from tests.conftest import SHARED_DATA

SAMPLE = SHARED_DATA / "spotify_sample_10k.csv"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SAMPLE.exists(), reason=f"{SAMPLE} is not available"),
]

# Rows whose values a strict CSV reader gets wrong, with their values as a person reads them.
KNOWN = {
    307: (
        "07f0fc3be95dcd878966b1f9572ff670",
        "Ludwig van Beethoven",
        'Sonata No. 23 In F Minor, Op. 57 "Appassionata" Assai Allegro',
        "Classique",
    ),
    2039: ("944c80d26922ae634d6ce445b1fdff7f", 'Matthew "Mdot" Finley', "Fire", "Starred"),
    2553: (
        "c5cdf06b5f1836006ef2a2fe4f5ff103",
        "Fall Out Boy",
        'A Little Less Sixteen Candles, A Little More "Touch Me"',
        "Fluff",
    ),
    2724: (
        "c50566d83fba17b20697039d5824db78",
        "Glasvegas",
        "I Feel Wrong (Homosexuality, Pt. 1)",
        '"/',
    ),
    3300: ("c50566d83fba17b20697039d5824db78", "The Gaslight Anthem", '"45"', "Everything at once"),
    8623: (
        "c50566d83fba17b20697039d5824db78",
        "SNAP!",
        'Rhythm Is A Dancer - Original 12"',
        "Everything at once",
    ),
}


@pytest.fixture(scope="module")
def parsed():
    return to_pandas(parse_playlist_lines(PlaylistCsvDataset(str(SAMPLE)).load()))


def test_every_row_of_the_sample_is_kept(parsed):
    rows = parsed
    assert len(rows) == 10_000
    assert (rows["outcome"] == "parsed").all()
    assert (rows["quoting"] == "inner_quotes").sum() == 26
    assert rows.groupby(["user_id", "playlistname"]).ngroups == 40
    assert (rows["artistname"] == "").sum() == 8


def test_sample_values_are_exact(parsed):
    rows = parsed.set_index("line_number")
    values = rows[["user_id", "artistname", "trackname", "playlistname"]]
    for line_number, want in KNOWN.items():
        assert tuple(values.loc[line_number]) == want
    # Every line without inner quotes must read exactly as the csv module reads it.
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        lines = stream.read().splitlines()[1:]
    checked = 0
    for line_number, line in enumerate(lines, start=2):
        if line.count('"') == 8:
            assert tuple(values.loc[line_number]) == tuple(next(csv.reader([line])))
            checked += 1
    assert checked == 10_000 - 26
