"""The batch pipeline's pieces on small tables: the ranking every path shares, reading and
accounting for the input, the playlists so far, the parts written, the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from music_recsys import duckdb_sql
from music_recsys.core.catalog import Query
from music_recsys.core.protocol import EvaluationParams
from music_recsys.datasets import ParquetPartsDataset, PlaylistFileError, PlaylistTableDataset
from music_recsys.datasets.loader import Loader
from music_recsys.pipelines.batch.nodes import (
    clean_batch_input,
    playlists_so_far,
    read_batch_playlists,
    recommend_next_tracks,
    summarize_batch,
)
from music_recsys.pipelines.batch.params import BatchParams
from music_recsys.pipelines.data_processing.params import CleaningParams
from music_recsys.serving.batch import COLUMNS, answers_to_rows, rank_playlists
from music_recsys.tables import to_pandas
from tests.conftest import expected_rejections
from tests.shared import ROWS, fit

BUDGET = 2**20


@pytest.fixture(scope="module")
def recommender():
    return fit("cooccurrence", ROWS).recommender


def test_each_playlist_is_ranked_as_the_evaluation_ranks_it(recommender):
    seeds = [["A1|||t1", "A2|||t2"], ["nobody|||unknown"], ["A3|||t3"], []]
    playlists = pd.DataFrame({"playlist_id": [10, 11, 12, 13], "seeds": seeds})
    rows = rank_playlists(recommender, playlists, k=5, budget_bytes=BUDGET)
    assert tuple(rows.columns) == COLUMNS and len(rows) == 4 * 5
    for position, (playlist_id, query) in enumerate(
        zip(playlists["playlist_id"], seeds, strict=True)
    ):
        top, scores, fell_back = recommender.rank([Query.of(recommender.index.lookup(query))], 5)
        mine = rows[rows["playlist_id"] == playlist_id]
        assert mine["rank"].tolist() == [1, 2, 3, 4, 5]
        assert mine["track_id"].tolist() == recommender.index.track_ids[top[0]].tolist()
        np.testing.assert_array_equal(mine["score"].to_numpy(), scores[0])
        assert mine["fallback"].tolist() == [bool(fell_back[0])] * 5, position
    # No known track: the most popular tracks, said so.
    unknown = rows[rows["playlist_id"] == 11]
    assert unknown["fallback"].all()
    assert unknown["track_id"].tolist() == recommender.index.track_ids[:5].tolist()
    first = rows.iloc[0]
    assert f"{first['artist']}|||{first['track']}" == first["track_id"]


def test_the_endpoints_answers_read_back_as_the_same_rows(recommender):
    playlists = pd.DataFrame({"playlist_id": [3, 4], "seeds": [["A1|||t1"], ["A5|||t5"]]})
    rows = rank_playlists(recommender, playlists, k=4, budget_bytes=BUDGET)
    answers = [
        {"track_ids": [*part["track_id"], ""], "scores": [*part["score"].astype(float), 0.0]}
        for _, part in rows.groupby("playlist_id")
    ]
    back = answers_to_rows([3, 4], answers, fell_back=[False, False])
    pd.testing.assert_frame_equal(back, rows)


def test_a_table_row_without_playlist_or_track_is_set_aside_with_its_reason():
    table = duckdb_sql.relation(
        pd.DataFrame(
            {
                "playlist_id": [1, 1, None, 2, 2],
                "position": [0, 1, 0, 0, 1],
                "track_id": ["a|||x", "a|||y", "a|||z", None, "b|||w"],
            }
        )
    )
    kept, accounting, rejected = read_batch_playlists(clean_batch_input(table, CleaningParams()))
    assert len(to_pandas(kept)) == 3
    assert rejected["reason"].tolist() == ["no_playlist_id", "no_track_id"]
    assert rejected["track_id"].iloc[0] == "a|||z" and pd.isna(rejected["track_id"].iloc[1])
    by_outcome = accounting.groupby("outcome")["rows"].sum()
    assert by_outcome["read"] == 5 == by_outcome["kept"] + by_outcome["rejected"]


def test_a_playlists_file_is_parsed_and_accounted_for_as_data_processing_does(quirks_file):
    lines = PlaylistTableDataset(str(quirks_file)).load()
    clean_rows = to_pandas(
        clean_batch_input(lines, CleaningParams())
    )  # stored, as the catalog does
    kept, accounting, rejected = read_batch_playlists(duckdb_sql.relation(clean_rows))
    by_outcome = accounting.groupby("outcome")["rows"].sum()
    assert by_outcome["read"] == by_outcome["kept"] + by_outcome["rejected"] + by_outcome.get(
        "filtered", 0
    )
    found = dict(zip(rejected["line_number"], rejected["reason"], strict=True))
    assert {line: found.get(line) for line in expected_rejections()} == expected_rejections()
    assert len(to_pandas(kept)) == by_outcome["kept"]


def test_each_playlist_is_asked_with_its_last_tracks_in_order():
    rows = pd.DataFrame(
        {
            "playlist_id": [7, 7, 7, 7, 2],
            "position": [3, 0, 2, 1, 0],
            "track_id": ["d", "a", "c", "b", "z"],
        }
    )
    queries = to_pandas(
        playlists_so_far(duckdb_sql.relation(rows), EvaluationParams(max_query_tracks=3))
    )
    assert queries["playlist_id"].tolist() == [2, 7]
    assert [list(s) for s in queries["seeds"]] == [["z"], ["b", "c", "d"]]
    assert queries["n_tracks"].tolist() == [1, 4]


def test_the_input_is_refused_by_name_when_missing_empty_or_of_other_columns(tmp_path):
    with pytest.raises(PlaylistFileError, match="No playlists to score at .*kedro run"):
        PlaylistTableDataset(str(tmp_path / "none.parquet")).load()
    with pytest.raises(PlaylistFileError, match="run `kedro run --env spark` first"):
        PlaylistTableDataset(str(tmp_path / "none.spark"), engine="spark").load()
    pd.DataFrame({"playlist_id": [], "position": [], "track_id": []}).to_parquet(
        tmp_path / "empty.parquet"
    )
    with pytest.raises(PlaylistFileError, match="empty.parquet' has no rows"):
        PlaylistTableDataset(str(tmp_path / "empty.parquet")).load()
    pd.DataFrame({"id": [1], "song": ["x"]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(PlaylistFileError, match="has the columns id, song; give a Parquet"):
        PlaylistTableDataset(str(tmp_path / "other.parquet")).load()
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(PlaylistFileError, match="empty.csv' line 1: the file is empty"):
        PlaylistTableDataset(str(tmp_path / "empty.csv")).load()


def test_one_row_per_playlist_loads_as_one_row_per_track(tmp_path):
    pd.DataFrame({"playlist_id": ["p", "q"], "track_ids": [["a", "b"], ["c"]]}).to_parquet(
        tmp_path / "wide.parquet"
    )
    long = to_pandas(PlaylistTableDataset(str(tmp_path / "wide.parquet")).load())
    assert long.sort_values(["playlist_id", "position"]).values.tolist() == [
        ["p", 0, "a"],
        ["p", 1, "b"],
        ["q", 0, "c"],
    ]


def test_parts_are_written_as_they_come_and_a_failed_save_keeps_the_old_table(tmp_path):
    dataset = ParquetPartsDataset(str(tmp_path / "out.parquet"))
    dataset.save(pd.DataFrame({"a": [i, i]}) for i in range(3))
    assert sorted(p.name for p in (tmp_path / "out.parquet").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert sorted(to_pandas(dataset.load())["a"]) == [0, 0, 1, 1, 2, 2]

    def broken():
        yield pd.DataFrame({"a": [9]})
        raise RuntimeError("interrupted")

    with pytest.raises(DatasetError, match="interrupted"):  # the ranking's error, named
        dataset.save(broken())
    assert sorted(to_pandas(dataset.load())["a"]) == [0, 0, 1, 1, 2, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_the_batch_is_ranked_in_parts_and_summarised(recommender, tmp_path):
    queries = duckdb_sql.relation(
        pd.DataFrame(
            {
                "playlist_id": [1, 2, 3],
                "seeds": [["A1|||t1"], ["nobody|||x"], ["A2|||t2", "A3|||t3"]],
                "n_tracks": [1, 1, 2],
            }
        )
    )
    model = tmp_path / "model.pkl"
    model.write_bytes(__import__("pickle").dumps(recommender))
    batch = BatchParams(model="selected", k=3, playlists_per_part=2)
    parts = list(
        recommend_next_tracks(
            queries,
            Loader(str(tmp_path / "none.pkl")),
            Loader(str(model)),
            batch,
            EvaluationParams(),
        )
    )
    assert [part["playlist_id"].unique().tolist() for part in parts] == [[1, 2], [3]]
    written = duckdb_sql.relation(pd.concat(parts, ignore_index=True))
    accounting = pd.DataFrame(
        [("read", "read", "x", 4), ("read", "kept", "y", 4)],
        columns=["stage", "outcome", "reason", "rows"],
    )
    summary = summarize_batch(written, queries, accounting, batch)
    assert summary["playlists"] == 3 and summary["fell_back_to_popular"] == 1
    assert summary["recommendations"] == 9 and summary["rows"]["read"] == 4
    with pytest.raises(RuntimeError, match="3 playlists were asked but 2 answered"):
        summarize_batch(duckdb_sql.relation(parts[0]), queries, accounting, batch)


def test_a_missing_deployed_model_says_what_to_run(recommender, tmp_path):
    queries = duckdb_sql.relation(
        pd.DataFrame({"playlist_id": [1], "seeds": [["a"]], "n_tracks": [1]})
    )
    missing = Loader(str(tmp_path / "deployed.pkl"))
    with pytest.raises(
        FileNotFoundError, match="kedro run --pipelines deployment.*batch.model=selected"
    ):
        recommend_next_tracks(queries, missing, missing, BatchParams(), EvaluationParams())
