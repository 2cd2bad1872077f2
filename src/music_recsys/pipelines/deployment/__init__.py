"""The Keras serving model, its SageMaker package and (when enabled) the endpoint."""


def __getattr__(name: str):
    # Imported lazily: TensorFlow takes seconds to import, and only this pipeline needs it.
    if name == "create_pipeline":
        from .pipeline import create_pipeline  # noqa: PLC0415

        return create_pipeline
    raise AttributeError(name)


__all__ = ["create_pipeline"]
