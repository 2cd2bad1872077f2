"""The project's domain, below every framework: what a catalog, a query, a ranking, a metric,
an evaluation and a selection are.

- :mod:`~music_recsys.core.catalog`: the catalog (:class:`TrackIndex`) and the query;
- :mod:`~music_recsys.core.training_rows`: the training playlists as arrays (DuckDB or Spark);
- :mod:`~music_recsys.core.ranking`: the recommender contract and the ranking rules;
- :mod:`~music_recsys.core.protocol`, :mod:`~music_recsys.core.queries`: the evaluation
  protocol and its queries;
- :mod:`~music_recsys.core.metrics`, :mod:`~music_recsys.core.evaluation`: metrics over the
  whole catalog, and the evaluation of one recommender on one set of queries;
- :mod:`~music_recsys.core.selection`: the rule that picks the candidate that ships;
- :mod:`~music_recsys.core.params`: the base of every typed settings block (parameters, a
  kind's settings): unknown keys are errors, values are frozen.

It imports neither Kedro's pipelines nor TensorFlow: kinds, pipelines, serving, the CLI and
the benchmarks import it, never the reverse (``lint-imports`` keeps it so).
"""
