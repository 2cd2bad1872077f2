"""Where the run's trials go: to the candidates screened within reach of the best one."""

import numpy as np

from music_recsys.tuning.params import TuningParams
from music_recsys.tuning.plan import plan_trials


def screened(hits: np.ndarray, searched: int = 2) -> dict:
    """A screening whose per-query values are ``hits`` (search and confirm halves)."""
    half = len(hits) // 2
    return {
        "screened": True,
        "value": float(hits[:half].mean()),
        "search": hits[:half].tolist(),
        "confirm": hits[half:].tolist(),
        "searched": [f"s{i}" for i in range(searched)],
    }


RNG = np.random.default_rng(3)
BEST = (RNG.random(2000) < 0.30).astype(float)
# A little behind, noisily: a third of the queries answered anew, a little worse.
CLOSE = np.where(RNG.random(2000) < 0.3, (RNG.random(2000) < 0.27).astype(float), BEST)
FAR = (RNG.random(2000) < 0.05).astype(float)


def test_the_trials_go_to_the_candidates_within_reach_of_the_best():
    plan = plan_trials(
        TuningParams(trials=30, trials_per_setting=20),
        10_000,
        {
            "best": screened(BEST),
            "close": screened(CLOSE),
            "far": screened(FAR),
            "order_reader": {"screened": False, "why": "it reads the play order"},
        },
    )
    trials = {name: p["trials"] for name, p in plan["candidates"].items()}
    assert plan["leader"] == "best" and trials == {
        "best": 15,
        "close": 15,
        "far": 0,
        "order_reader": 0,
    }
    assert plan["spent"] == 30 == plan["total"]
    far = plan["candidates"]["far"]
    assert "trails best" in far["why"] and far["gap"] > 2 * far["paired_se"]
    assert "not screened: it reads the play order" in plan["candidates"]["order_reader"]["why"]


def test_a_candidate_searching_fewer_settings_takes_fewer_trials_and_leaves_the_rest():
    plan = plan_trials(
        TuningParams(trials=30, trials_per_setting=8),
        10_000,
        {"one_setting": screened(BEST, searched=1), "four_settings": screened(CLOSE, searched=4)},
    )
    trials = {name: p["trials"] for name, p in plan["candidates"].items()}
    assert trials == {"one_setting": 8, "four_settings": 22}


def test_the_budget_is_sized_from_the_data_and_counted_in_trials():
    tuning = TuningParams(trials=30, trial_rows=1_000_000)
    assert tuning.total_trials(10_000) == 30  # a small sample: every trial asked for
    assert tuning.total_trials(100_000) == 10  # a large one: fewer trials, each costlier
    assert tuning.total_trials(10**9) == 1
    assert TuningParams(trials=0).total_trials(10) == 0
    plan = plan_trials(TuningParams(enabled=False), 10, {"a": screened(BEST)})
    assert plan["candidates"]["a"]["trials"] == 0
