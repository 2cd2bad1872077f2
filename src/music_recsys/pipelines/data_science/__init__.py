"""Candidates of every kind, honest evaluation with standard errors, selection on validation."""


def __getattr__(name: str):
    # Imported lazily so that loading a pickled recommender (e.g. the MLflow model) needs only
    # numpy, pandas and scipy, not Kedro, gensim and DuckDB.
    if name == "create_pipeline":
        from .pipeline import create_pipeline  # noqa: PLC0415

        return create_pipeline
    raise AttributeError(name)


__all__ = ["create_pipeline"]
