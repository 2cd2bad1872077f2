"""A candidate's tuning study: where it starts, what it keeps, its budget, a shared training."""

import dataclasses
import time

import pandas as pd
import pytest

from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.training_rows import build_track_index
from music_recsys.kinds import FitInputs, SharedTraining, kind
from music_recsys.tables import first_row, sql
from music_recsys.tuning.params import TuningParams
from music_recsys.tuning.study import tune
from tests.shared import ORDERED, SORTED, W2V
from tests.tuning.test_data import split

EVALUATION = EvaluationParams(k=(10,), max_queries=100)


def study(kind_name, settings, trials=7, group=None, chosen_kind=None, report=SORTED, **tuning):
    fitting, queries = split()
    inputs = FitInputs(fitting, build_track_index(fitting), report, name="c")
    chosen = chosen_kind or kind(kind_name)
    group = group or {"c": chosen.settings(**settings)}
    params = TuningParams(**{"seed": 0} | tuning)
    return tune(chosen, group, inputs, queries, EVALUATION, params, trials)


def test_the_first_trial_is_the_conf_setting_and_every_trial_is_recorded():
    tuned = study("cooccurrence", {"window": 2}, pruning=False)
    trials = tuned.trials
    assert trials.loc[0, "param_window"] == 2 and trials.loc[0, "param_normalisation"] == "none"
    assert len(trials) == 8 and set(trials["state"]) == {"COMPLETE"}
    assert trials.loc[0, "note"] == "screening: the conf's setting"
    assert trials["value"].between(0, 1).all() and trials["confirm_value"].between(0, 1).all()
    summary = tuned.summary
    assert summary["trials"] == 8 and summary["default_value"] == trials.loc[0, "value"]
    assert summary["best_value"] == trials["value"].max()
    assert kind("cooccurrence").settings(**tuned.settings)  # what ships validates


def test_a_lead_within_the_configured_paired_ses_keeps_the_conf_setting():
    kept = study("cooccurrence", {"window": 2}, pruning=False, min_lead_se=1000.0)
    declared = kind("cooccurrence").settings(window=2).model_dump()
    assert not kept.summary["tuned"] and kept.settings == declared
    assert kept.summary["best_value"] >= kept.summary["default_value"]
    assert "kept" in kept.summary["decision"]
    moved = study("cooccurrence", {"window": 2}, pruning=False, min_lead_se=0.0)
    # The decision is taken on the confirm queries, not on those that chose the best trial.
    summary = moved.summary
    assert summary["lead"] == summary["confirm_best_value"] - summary["confirm_default_value"]
    assert summary["tuned"] == (summary["lead"] > 0)
    if summary["tuned"]:
        assert summary["changed"] and moved.settings != declared


def test_disabled_tuning_runs_no_trial_and_ships_the_conf_setting():
    tuned = study("ials", {"factors": 8, "iterations": 2}, enabled=False)
    assert tuned.summary["trials_planned"] == 7
    assert tuned.summary["trials"] == 0 and not tuned.summary["tuned"]
    assert tuned.settings == kind("ials").settings(factors=8, iterations=2).model_dump()
    assert tuned.trials.empty and "param_factors" in tuned.trials


def test_a_kind_that_reads_the_play_order_is_not_tuned_on_title_sorted_rows():
    tuned = study("sequential_rules", {"window": 3})
    assert tuned.summary["trials"] == 0
    assert "sorted by title" in tuned.summary["decision"]


def test_the_wall_clock_guard_stops_a_study_and_the_summary_names_it():
    cooccurrence = kind("cooccurrence")

    def slow(inputs, settings):
        time.sleep(0.4)
        return cooccurrence.fit(inputs, settings)

    started = time.perf_counter()
    tuned = study(
        "", {"window": 2}, trials=20, guard_seconds=1.0,
        chosen_kind=dataclasses.replace(cooccurrence, fit=slow),
    )  # fmt: skip
    assert 1 <= tuned.summary["trials"] <= 4 and tuned.summary["trials_planned"] == 20
    assert tuned.summary["cut_by_guard"] and "wall-clock guard" in tuned.summary["decision"]
    assert time.perf_counter() - started < 4.0
    planned = study("cooccurrence", {"window": 2}, trials=3)
    assert planned.summary["trials"] == 4 and not planned.summary["cut_by_guard"]


def test_the_same_trials_give_the_same_study_however_busy_the_machine():
    cooccurrence = kind("cooccurrence")
    delays = iter([0.0, 0.3, 0.0, 0.2, 0.1, 0.0, 0.3, 0.0] * 3)

    def uneven(inputs, settings):
        time.sleep(next(delays))  # a busy machine: trials take longer, at random
        return cooccurrence.fit(inputs, settings)

    quick = study("cooccurrence", {"window": 2}, trials=6, pruning=False)
    slow = study(
        "", {"window": 2}, trials=6, pruning=False,
        chosen_kind=dataclasses.replace(cooccurrence, fit=uneven),
    )  # fmt: skip
    columns = ["value", "param_window", "param_normalisation"]
    pd.testing.assert_frame_equal(quick.trials[columns], slow.trials[columns])
    assert quick.settings == slow.settings


def test_recency_is_searched_only_where_the_play_order_can_be_read():
    titled = study("cooccurrence", {"window": 2}, trials=2)
    assert "recency" not in titled.summary["searched"]
    ordered = study("cooccurrence", {"window": 2}, trials=2, report=ORDERED)
    assert {"recency", "recency_decay"} <= set(ordered.summary["searched"])


def test_a_conf_setting_that_fails_stops_the_run_with_its_error():
    def broken(inputs, settings):
        raise ValueError("the conf's own setting is broken")

    failing = dataclasses.replace(kind("cooccurrence"), fit=broken)
    with pytest.raises(ValueError, match="own setting is broken"):
        study("", {"window": 2}, chosen_kind=failing)


def test_candidates_sharing_a_training_are_tuned_as_one_trained_once_a_trial():
    word2vec = kind("word2vec")
    calls = []

    def counted(inputs, settings):
        calls.append(settings.training_settings())
        return word2vec.shared_training.train(inputs, settings)

    sharing = dataclasses.replace(
        word2vec, shared_training=SharedTraining(word2vec.shared_training.key, counted)
    )
    group = {
        "c": word2vec.settings(**W2V, scoring="cosine"),
        "d": word2vec.settings(**W2V, scoring="in_out"),
    }
    tuned = study("", {}, group=group, chosen_kind=sharing, trials=2, pruning=False)
    assert len(calls) == tuned.summary["complete"] == 3  # the screening, then two trials
    assert set(tuned.trials["scored_as"]) <= {"c", "d"}
    # Each trial's value is its better-scoring variant's.
    assert tuned.settings["scoring"] == "cosine"


def test_a_rows_counted_training_budget_is_scaled_to_the_tuning_sample():
    word2vec = kind("word2vec")
    trained = []

    def counted(inputs, settings):
        trained.append(settings.max_training_words)
        return word2vec.shared_training.train(inputs, settings)

    sharing = dataclasses.replace(
        word2vec, shared_training=SharedTraining(word2vec.shared_training.key, counted)
    )
    group = {
        "c": word2vec.settings(**W2V, scoring="cosine", max_training_words=1000),
        "d": word2vec.settings(**W2V, scoring="in_out", max_training_words=1000),
    }
    fitting, queries = split()
    (rows,) = first_row(sql("SELECT count(*) FROM {r}", r=fitting))
    inputs = FitInputs(fitting, build_track_index(fitting), SORTED, name="c")
    params = TuningParams(seed=0, pruning=False)
    tuned = tune(sharing, group, inputs, queries, EVALUATION, params, 1, training_rows=4 * rows)
    # The sample is a quarter of the full fit's rows: a trial trains a quarter of the budget.
    assert trained == [250, 250] and tuned.summary["fit_playlists"] > 0
    assert tuned.settings["max_training_words"] == 1000  # what ships keeps the conf's budget


def test_plots_say_why_where_importances_cannot_be_computed():
    from music_recsys.tuning.plots import plot_tuning  # noqa: PLC0415 - matplotlib

    tuned = study("cooccurrence", {"window": 2}, pruning=False, trials=3)
    same = tuned.trials.assign(value=0.25)  # every trial scored the same: no variance
    history, importance = plot_tuning(same, kind("cooccurrence").search_space, "c")
    assert "all scored the same" in importance.texts[0].get_text()
    assert history.axes  # the history is still drawn
    _, importance = plot_tuning(tuned.trials.head(2), kind("cooccurrence").search_space, "c")
    assert "too few" in importance.texts[0].get_text()
    empty = tuned.trials.head(0)
    history, _ = plot_tuning(empty, kind("cooccurrence").search_space, "c", "fitted as declared")
    assert "fitted as declared" in history.texts[0].get_text()


def test_a_failing_trial_is_recorded_with_its_error_and_the_study_goes_on():
    cooccurrence = kind("cooccurrence")

    def fragile(inputs, settings):
        if settings.window != 2:
            raise MemoryError("this window does not fit")
        return cooccurrence.fit(inputs, settings)

    tuned = study(
        "", {"window": 2}, pruning=False, chosen_kind=dataclasses.replace(cooccurrence, fit=fragile)
    )
    failed = tuned.trials[tuned.trials["state"] == "FAIL"]
    assert len(failed) >= 1 and tuned.summary["failed"] == len(failed)
    assert failed["note"].str.contains("MemoryError: this window does not fit").all()
    assert tuned.summary["trials"] == 8 and tuned.settings["window"] == 2
