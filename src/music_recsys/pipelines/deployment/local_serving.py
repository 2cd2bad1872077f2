"""Answer a request exactly as the TensorFlow Serving container would, from a SavedModel.

TF Serving's REST ``predict`` takes ``{"instances": [...]}`` (or a bare JSON list, taken as
the instances) and answers ``{"predictions": [...]}``, one object per instance with the
signature's outputs. Here each instance is one list of seed track ids (or ``{"seed_track_ids":
[...]}``, or a single id); lists of unequal length are padded with ``""``, as the signature
expects. Defined for hostile requests too: no instance → no prediction; an empty list, unknown
ids, ``null`` or non-string values → ignored as seeds (all ignored: the most popular tracks);
repeated seeds count once each time they appear; thousands of seeds are fine.

Run in a fresh process, it is the local check of a package::

    python -m music_recsys.pipelines.deployment.local_serving <extracted>/1 < request.json
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _seed_lists(body: Any) -> list[list[str]]:
    instances = body["instances"] if isinstance(body, dict) else body
    if not isinstance(instances, list):
        raise ValueError('The request must be {"instances": [...]} or a JSON list of instances.')
    seeds = []
    for instance in instances:
        tracks = instance.get("seed_track_ids", []) if isinstance(instance, dict) else instance
        if isinstance(tracks, str) or not isinstance(tracks, list):
            tracks = [tracks]
        # Not a string: null is padding; anything else is its text, an id no catalog holds.
        seeds.append(["" if track is None else str(track) for track in tracks])
    return seeds


def padded_seeds(seeds: list[list[str]]):
    """Seed lists as the signature's ``[batch, n]`` string tensor, padded with ``""``."""
    import tensorflow as tf  # noqa: PLC0415 - heavy; only when serving

    width = max([len(s) for s in seeds] + [1])
    return tf.constant([s + [""] * (width - len(s)) for s in seeds] or [[""]], dtype=tf.string)


def predict(saved_model_dir: str, body: Any) -> dict:
    """The response TF Serving would give for ``body`` (see the module doc)."""
    import tensorflow as tf  # noqa: PLC0415 - heavy; only when serving

    return respond(tf.saved_model.load(saved_model_dir), body)


def respond(saved_model: Any, body: Any) -> dict:
    """:func:`predict` with the SavedModel already loaded (``tf.saved_model.load``)."""
    serve = saved_model.signatures["serving_default"]
    seeds = _seed_lists(body)
    outputs = serve(seed_track_ids=padded_seeds(seeds))
    track_ids = outputs["track_ids"].numpy()[: len(seeds)]
    scores = outputs["scores"].numpy()[: len(seeds)]
    return {
        "predictions": [
            {"track_ids": [t.decode("utf-8") for t in ids], "scores": [float(s) for s in row]}
            for ids, row in zip(track_ids, scores, strict=True)
        ]
    }


if __name__ == "__main__":
    json.dump(predict(sys.argv[1], json.load(sys.stdin)), sys.stdout)
