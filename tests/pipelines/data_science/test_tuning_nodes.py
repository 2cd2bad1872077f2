"""The tuning nodes: the conf's setting scored on validation beside the tuned one, a shared
training's follower adopting the tuned values, and the run's tuning table."""

import math

import pandas as pd

from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import kind
from music_recsys.pipelines.data_science.tuning_nodes import (
    adopt_tuned_settings,
    build_tuning_table,
    evaluate_declared,
)
from music_recsys.tuning.params import TuningParams
from tests.shared import ORDERED, ROWS, W2V, fit
from tests.tuning.test_data import split

QUERIES = split(holdout=0.5)[1]  # queries with real targets from the fixture's playlists

EVALUATION = EvaluationParams(k=(10,))
COOCCURRENCE = kind("cooccurrence").settings


def declared(tuned: dict, shares: bool = False, **tuning):
    rows = relation(ROWS)
    index = build_track_index(rows)
    queries = QUERIES
    tuned_model = fit("cooccurrence", rows, COOCCURRENCE(**tuned), index=index).recommender
    _, ranks = evaluate(tuned_model, queries, EVALUATION)
    return evaluate_declared(
        rows,
        index,
        ORDERED,
        {"protocol": "next_track"},
        queries,
        ranks,
        EVALUATION,
        TuningParams(**tuning),
        COOCCURRENCE(window=2),
        tuned,
        kind_name="cooccurrence",
        name="cooccurrence",
        shares_training=shares,
    ), ranks


def test_the_conf_setting_is_scored_on_validation_only_when_tuning_changed_it():
    same, _ = declared({"window": 2, "normalisation": "none"})
    assert same == {"compared": False, "why": "tuning kept the conf's setting"}
    off, _ = declared({"window": None, "normalisation": "cosine"}, default_on_validation=False)
    assert not off["compared"]
    shared, _ = declared({"window": None, "normalisation": "cosine"}, shares=True)
    assert shared == {"compared": False, "why": "a shared training is not repeated to report"}
    result, _ = declared({"window": None, "normalisation": "cosine"})
    assert result["compared"] and 0 <= result["value"] <= 1
    assert result["standard_error"] > 0 and result["paired_se"] > 0
    # The tuned one's lead is the difference of the two hit rates on the same queries.
    rows = relation(ROWS)
    conf = fit("cooccurrence", rows, COOCCURRENCE(window=2)).recommender
    tuned = fit("cooccurrence", rows, COOCCURRENCE(window=None, normalisation="cosine")).recommender
    a = evaluate(tuned, QUERIES, EVALUATION)[0]["hit_rate_at_10"]
    b = evaluate(conf, QUERIES, EVALUATION)[0]["hit_rate_at_10"]
    assert math.isclose(result["lead_of_tuned"], a - b) and math.isclose(result["value"], b)


def test_a_follower_adopts_the_tuned_training_and_keeps_its_own_scoring():
    word2vec = kind("word2vec")
    mine = word2vec.settings(**W2V, scoring="in_out", max_training_seconds=30)
    leader = word2vec.settings(**W2V | {"window": 7, "epochs": 9}).model_dump(mode="json")
    adopted = word2vec.settings(
        **adopt_tuned_settings(mine, leader, kind_name="word2vec", name="x")
    )
    assert adopted.window == 7 and adopted.epochs == 9 and adopted.scoring == "in_out"
    assert adopted.max_training_seconds == 30
    assert word2vec.shared_training.key(adopted) == word2vec.shared_training.key(
        word2vec.settings(**leader | {"max_training_seconds": 30})
    )


def test_the_tuning_table_has_a_row_per_tuned_candidate_with_both_figures():
    summary = {
        "searched": ["window"],
        "trials": 5,
        "complete": 4,
        "pruned": 1,
        "seconds": 3.0,
        "trials_planned": 4,
        "screen_value": 0.2,
        "plan": "the best screened: 4 trials",
        "queries": 100,
        "default_value": 0.2,
        "default_se": 0.04,
        "best_value": 0.3,
        "best_se": 0.05,
        "paired_se": 0.02,
        "tuned": True,
        "changed": {"window": [5, 10]},
        "decision": "tuned",
    }
    kept = {"searched": ["factors"], "trials": 3, "tuned": False, "decision": "kept"}
    table = build_tuning_table(
        EVALUATION,
        a__tuning=summary,
        a__declared={"compared": True, "value": 0.25, "standard_error": 0.01, "paired_se": 0.005},
        a__validation={"hit_rate_at_10": 0.27, "hit_rate_at_10_se": 0.01},
        b__tuning=kept,
        b__declared={"compared": False, "why": "kept"},
        b__validation={"hit_rate_at_10": 0.1, "hit_rate_at_10_se": 0.01},
    )
    a, b = (table.set_index("candidate").loc[c] for c in "ab")
    assert a["changed"] == "window 5 → 10" and a["tuned"]
    assert a["conf_validation_hit_rate_at_10"] == 0.25
    assert a["validation_hit_rate_at_10"] == 0.27
    # Kept: the conf's setting is what was scored on validation.
    assert b["conf_validation_hit_rate_at_10"] == b["validation_hit_rate_at_10"] == 0.1
    assert isinstance(table, pd.DataFrame) and list(table["candidate"]) == ["a", "b"]
