"""The registry: every kind found, candidates read from conf blocks, the light import path."""

import subprocess
import sys

from music_recsys.kinds import Kind, candidates, registry


def test_every_kind_is_registered_and_candidates_are_read_from_conf_blocks():
    kinds = registry()
    assert {
        "most_popular",
        "cooccurrence",
        "sequential_rules",
        "word2vec",
        "playlist_knn",
        "ials",
        "blend",
    } <= set(kinds)
    assert all(isinstance(k, Kind) for k in kinds.values())
    assert [k.name for k in kinds.values() if k.needs_play_order] == ["sequential_rules"]
    found = candidates(
        {
            "knn_500": {"playlist_knn": {"neighbours": 500}},
            "evaluation": {"k": [10]},
            "blend": {"blend": {"components": ["knn_500"]}},
        }
    )
    assert sorted(found) == ["blend", "knn_500"]
    assert found["knn_500"].validated().neighbours == 500


def test_the_kinds_and_recommends_fast_path_import_neither_pandas_nor_tensorflow():
    """`music-recsys recommend` answers from cached arrays in about a second; pandas alone
    would add half of that (the kinds import numpy, scipy and pydantic only at the top)."""
    code = (
        "import sys, music_recsys.serving.recommend, music_recsys.kinds as k; k.registry(); "
        "print([m for m in ('pandas', 'tensorflow', 'kedro') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
