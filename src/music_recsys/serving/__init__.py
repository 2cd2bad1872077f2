"""Serving: what a deployed package answers, and the local stand-ins that prove it.

- :mod:`~music_recsys.serving.inference`: the request handler every package ships as
  ``code/inference.py`` (standard library and falcon only, as the SageMaker container has);
- :mod:`~music_recsys.serving.json_tensor` and :mod:`~music_recsys.serving.tf_serving`: TF
  Serving's REST rules, and a strict stand-in for TF Serving over a SavedModel;
- :mod:`~music_recsys.serving.container`: the SageMaker container's ``/ping`` and
  ``/invocations`` front, which calls the handler;
- :mod:`~music_recsys.serving.local`: all of them in a row over a package
  (:class:`~music_recsys.serving.local.LocalEndpoint`), for the deployment's check,
  ``music-recsys recommend --serving-model`` and the notebooks;
- :mod:`~music_recsys.serving.server`: ``music-recsys serve``, the same front on a socket.

Nothing here is imported at package import: TensorFlow and falcon load only where used.
"""

from importlib import resources


def handler_source() -> str:
    """The text of :mod:`music_recsys.serving.inference`, as a package ships it."""
    return (resources.files(__name__) / "inference.py").read_text(encoding="utf-8")
