import pandas as pd
import pytest
from kedro.io import DatasetError

from music_recsys.datasets import DuckDBParquetDataset
from music_recsys.duckdb_sql import relation, sql, to_pandas


def test_relations_stream_to_parquet_and_load_lazily(tmp_path):
    frame = pd.DataFrame({"playlist_id": [0, 0, 1], "track_id": ["A|||a", "A|||b", "B|||c"]})
    dataset = DuckDBParquetDataset(str(tmp_path / "out" / "tracks.parquet"))
    dataset.save(sql("SELECT * FROM {t} WHERE playlist_id = 0", t=frame))
    loaded = dataset.load()
    assert to_pandas(loaded).to_dict("list") == {
        "playlist_id": [0, 0],
        "track_id": ["A|||a", "A|||b"],
    }
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_frames_are_accepted_and_preview_is_plain_python(tmp_path):
    dataset = DuckDBParquetDataset(str(tmp_path / "t.parquet"))
    dataset.save(pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"]}))
    preview = dataset.preview(nrows=2)
    assert preview["columns"] == ["a", "b"]
    assert preview["data"] == [[1, "x"], [2, None]]
    assert dataset.exists()


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path):
    dataset = DuckDBParquetDataset(str(tmp_path / "t.parquet"))
    dataset.save(pd.DataFrame({"a": [1]}))
    broken = relation(pd.DataFrame({"a": ["x"]})).project("a::INTEGER AS a")  # fails when run
    with pytest.raises(DatasetError, match="Could not convert"):
        dataset.save(broken)
    assert to_pandas(dataset.load())["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_the_loader_twin_loads_only_when_called(tmp_path):
    import pickle  # noqa: PLC0415

    from kedro.io import DatasetError  # noqa: PLC0415

    from music_recsys.datasets import PickleLoaderDataset  # noqa: PLC0415

    dataset = PickleLoaderDataset(str(tmp_path / "model.pkl"))
    missing = dataset.load()  # a node may take loaders of models it does not use
    with pytest.raises(FileNotFoundError, match="No model at"):
        missing()
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    loader = dataset.load()
    assert "model.pkl" in repr(loader)
    assert loader() == {"weights": [1, 2]}
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({"weights": [3]})
