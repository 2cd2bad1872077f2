from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from music_recsys.datasets import PlaylistCsvDataset, PlaylistFileError
from tests.conftest import HEADER, QUIRK_LINES


def _lines(path: Path) -> pd.DataFrame:
    return (
        PlaylistCsvDataset(str(path)).load().to_arrow_table().to_pandas().sort_values("line_number")
    )


def test_every_physical_line_comes_back_with_its_line_number(quirks_file):
    lines = _lines(quirks_file)
    assert lines["line_number"].tolist() == list(range(2, len(QUIRK_LINES) + 2))
    by_number = lines.set_index("line_number")
    assert by_number.loc[2, "line"] == '"u1","Artist A","Song 1","rock"'  # CRLF stripped
    assert pd.isna(by_number.loc[5, "line"])  # the blank line is there, empty
    bad_utf8 = next(n for n, (raw, _) in enumerate(QUIRK_LINES, start=2) if b"\xff" in raw)
    assert by_number.loc[bad_utf8, "read_error"] == "invalid_utf8"
    assert by_number["read_error"].notna().sum() == 1


def test_line_numbers_stay_right_after_several_unreadable_lines(tmp_path):
    raw = [
        HEADER,
        b'"u","a","t","p"',
        b'"u","\xff","t","p"',
        b'"u","\xfe","t","p"',
        b"",
        b'"u","b","t","p"',
        b'"u","' + b"x" * 2_100_000 + b'","t","p"',
        b'"u","c","t","p"',
    ]
    path = tmp_path / "f.csv"
    path.write_bytes(b"\n".join(raw) + b"\n")
    lines = _lines(path).set_index("line_number")
    assert list(lines.index) == [2, 3, 4, 5, 6, 7, 8]
    assert lines.loc[6, "line"] == '"u","b","t","p"'
    assert lines.loc[8, "line"] == '"u","c","t","p"'
    assert lines["read_error"].dropna().to_dict() == {
        3: "invalid_utf8",
        4: "invalid_utf8",
        7: "line_too_long",
    }
    assert len(lines.loc[7, "line"]) <= 1000


def test_save_writes_the_real_file_format_and_reads_back(tmp_path):
    frame = pd.DataFrame(
        [["u1", 'Matthew "Mdot" Finley', 'Song 12"', "rock"], ["u2", "", "Björk song", '"/']],
        columns=["user_id", "artistname", "trackname", "playlistname"],
    )
    path = tmp_path / "out" / "spotify_dataset.csv"
    PlaylistCsvDataset(str(path)).save(frame)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == '"user_id", "artistname", "trackname", "playlistname"'
    assert text.splitlines()[1] == '"u1","Matthew "Mdot" Finley","Song 12"","rock"'
    assert not list(path.parent.glob("*.tmp"))


def test_save_refuses_values_that_would_not_read_back(tmp_path):
    frame = pd.DataFrame(
        [["u1", 'a","b', "t", "p"]], columns=["user_id", "artistname", "trackname", "playlistname"]
    )
    path = tmp_path / "x.csv"
    with pytest.raises(DatasetError, match="row 1"):
        PlaylistCsvDataset(str(path)).save(frame)
    assert not path.exists()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"", "empty"),
        (b'"a","b"\n"1","2"\n', "expected the header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b'{"user_id": 1}\n', "expected the header"),
        (b"user_id\tartistname\ttrackname\tplaylistname\nu\ta\tt\tp\n", "expected the header"),
        (b'"user_id", "artistname", "trackname"\n"u","a","t"\n', "expected the header"),
        (b'"user_id", "artistname", "trackname", "playlistname"\n', "no data line"),
        (b'"user_id", "artistname", "trackname", "playlistname"', "no data line"),
    ],
)
def test_a_file_that_is_not_the_playlists_format_gets_a_clear_error(tmp_path, content, message):
    path = tmp_path / "spotify_dataset.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PlaylistFileError, match=message) as error:
        PlaylistCsvDataset(str(path)).load()
    assert str(path) in str(error.value)


def test_header_with_bom_and_crlf_is_accepted(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER + b'\r\n"u","a","t","p"\r\n')
    assert _lines(path)["line"].tolist() == ['"u","a","t","p"']


def test_preview_shows_split_rows(quirks_file):
    preview = PlaylistCsvDataset(str(quirks_file)).preview(nrows=3)
    assert preview["columns"] == ["user_id", "artistname", "trackname", "playlistname"]
    assert preview["data"][1] == ["u1", 'Matthew "Mdot" Finley', "Fire", "rock"]
