"""Tuning: each candidate's declared settings searched on the user's own data, within a budget.

- :mod:`.params`: what ``tuning:`` in ``conf/base/parameters_data_science.yml`` holds;
- :mod:`.data`: the rows trials fit on and the queries that score them — both from the
  training playlists, never from validation or test (selection judges on validation);
- :mod:`.study`: the Optuna study a candidate's tuning runs (TPE, pruning, a wall-clock budget,
  the conf's settings tried first) and the rule that decides whether the tuned setting ships;
- :mod:`.plots`: Optuna's optimisation history and parameter importances, from the trials.
"""
