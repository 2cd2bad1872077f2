"""How tuning sits in the pipelines: it reads no held-out playlist, the fits and the
deployment read what it chose, and a kind without a search space is fitted as declared."""

from music_recsys.pipelines.candidates import declared_with_tuning
from music_recsys.pipelines.data_science.pipeline import create_pipeline
from music_recsys.pipelines.deployment.pipeline import create_pipeline as deployment

HELD_OUT = {
    "playlists_validation",
    "playlists_test",
    "validation_queries",
    "test_queries",
    "params:evaluation.selection_metric",
}


def test_the_plan_tunes_every_searchable_candidate_but_the_untuned_and_shares_word2vec():
    _, plan = declared_with_tuning()
    assert plan["ials"] == plan["playlist_knn"] == plan["ease"] == "tuned"
    assert plan["w2v_music_sg_inout"] == "w2v_music_sg"  # shares its training: adopts
    assert "transitions" not in plan  # conf: tuning.untuned
    assert "blend" not in plan and "most_popular" not in plan


def test_no_tuning_node_reads_a_held_out_split_and_fits_read_the_tuned_settings():
    pipeline = create_pipeline()
    _, plan = declared_with_tuning()
    tuning = [n for n in pipeline.nodes if "tuning" in n.tags]
    assert {n.name.split(".")[-1] for n in tuning} >= {
        "split_for_tuning_node",
        "tune_node",
        "adopt_tuned_settings_node",
    }
    for node in tuning:
        if node.name != "build_tuning_table_node":  # the report's table: after selection
            assert not set(node.inputs) & HELD_OUT, node.name
    fits = {n.namespace: n for n in pipeline.nodes if n.name.endswith(".fit_node")}
    for name, node in fits.items():
        expected = f"{name}.tuned_settings" if name in plan else f"params:{name}."
        assert any(i.startswith(expected) for i in node.inputs), (name, node.inputs)
    train = next(n for n in pipeline.nodes if n.name == "w2v_music_sg.train_node")
    assert "w2v_music_sg.tuned_settings" in train.inputs


def test_the_deployment_refit_reads_every_tuned_candidate_settings():
    refit = next(n for n in deployment().nodes if n.name == "refit_for_deployment_node")
    _, plan = declared_with_tuning()
    assert {f"{name}.tuned_settings" for name in plan} <= set(refit.inputs)
