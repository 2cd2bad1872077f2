"""NodeProfileHook: each node's time and peak memory, in the log and in MLflow."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

from music_recsys import resources
from music_recsys.hooks import NodeProfileHook


def test_each_node_is_timed_from_its_first_load_to_the_next_nodes(caplog):
    hook = NodeProfileHook()
    hook.before_pipeline_run()
    first, second = SimpleNamespace(name="first_node"), SimpleNamespace(name="second_node")
    with caplog.at_level(logging.INFO, logger="music_recsys.hooks"):
        hook.before_dataset_loaded(first)
        hook.before_node_run(first)
        block = bytearray(64 * 2**20)  # touch 64 MB inside the first node
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.05)
        hook.after_node_run(first)
        del block
        hook.before_node_run(second)  # no inputs: starts at its run
        hook.after_node_run(second)
        profile = hook.profile()
    names = [n["node"] for n in profile["nodes"]]
    assert names == ["first_node", "second_node"]
    first_record = profile["nodes"][0]
    assert first_record["seconds"] >= 0.05 and first_record["run_seconds"] >= 0.05
    if resources.peak_rss_bytes() is not None:  # Linux
        assert first_record["peak_rss_gb"] >= 64 / 1024
        assert profile["peak_rss_gb"] >= first_record["peak_rss_gb"]
    assert "Node first_node took" in caplog.text
