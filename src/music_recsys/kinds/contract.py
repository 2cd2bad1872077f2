"""The contract every candidate kind follows: what it declares, what its fit reads and returns.

A kind is one package, ``music_recsys/kinds/<name>/``, whose ``__init__.py`` defines
``KIND = Kind(...)`` and whose ``serving.py`` holds its Keras serving layer; a candidate is a
block naming it in ``conf/base/parameters_data_science.yml``. Nothing else names a kind: the
pipelines build every candidate's nodes from what its :class:`Kind` declares, the deployment
packages it through its declared serving layer, and the package's arrays rebuild it through
its ``from_arrays``.

- ``fit(inputs, settings) -> Fitted``: :class:`FitInputs` holds the training rows, the
  catalog and the order check, plus what the kind declares it reads: the validation queries
  (``reads_validation``: the blend tunes its weights on them, and returns its own answers on
  them, which the evaluation then scores), the fitted candidates it is built from
  (``components``), a shared first stage (``shared_training``: word2vec variants that differ
  only in scoring train once).
- ``refit(inputs, settings, evaluated) -> Recommender`` refits for deployment on every
  playlist (default: ``fit``); ``evaluated`` loads the evaluated fit, and
  ``inputs.refit_component(name)`` refits another candidate on the same rows.
- ``serving_layer``: where the Keras layer that ranks as the recommender does lives
  (``"module:function"``, ``function(recommender, k)``), imported only when packaging, so
  training never loads TensorFlow; ``arrays``: the names of the variables it stores, which
  ``from_arrays(index, arrays, name, description)`` reads back (names shared by both halves,
  as constants of the kind's package); ``describe``: what else the package records.
- ``search_space``: the settings the tuner may change and their ranges
  (:mod:`music_recsys.kinds.search_space`); empty: the kind is fitted as declared.
- Recency: a kind whose query tracks can weigh by their distance from the end declares its
  settings on :class:`RecencySettings` (``recency``, ``recency_decay``), searches
  :data:`~music_recsys.kinds.search_space.RECENCY_SPACE`, and its fit sets the recommender's
  ``recency`` from :meth:`RecencySettings.recency_for` (none where the order cannot be read).
  The package stores it (:data:`RECENCY_ARRAY`), so a rebuilt recommender weighs alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field

from music_recsys.core.params import Params
from music_recsys.core.protocol import in_play_order
from music_recsys.core.recency import RECENCY_ARRAY, Recency, Weighting, effective

if TYPE_CHECKING:
    import pandas as pd

    from music_recsys.core.catalog import TrackIndex
    from music_recsys.core.evaluation import Answers
    from music_recsys.core.protocol import EvaluationParams
    from music_recsys.core.ranking import Recommender


class Settings(Params):
    """Base of every kind's settings: unknown keys are errors, values are frozen."""


class RecencySettings(Settings):
    """Settings of a kind whose query tracks weigh by their distance from the end of the
    playlist so far (:mod:`music_recsys.core.recency`): ``recency`` names the weighting,
    ``recency_decay`` is the geometric one's factor per step back."""

    recency: Weighting = "same"
    recency_decay: float = Field(
        0.8, ge=0.0, le=1.0, description="geometric: a track weighs decay ** (steps from the end)"
    )

    def recency_for(self, inputs: FitInputs) -> Recency:
        """The recency the fit uses: these settings where the order can be read (the
        next-track protocol on rows in play order), none elsewhere."""
        return effective(self.recency, self.recency_decay, inputs.reads_order)


@dataclass
class FitInputs:
    """What a kind's fit reads (the pipeline fills in what the kind declares it needs)."""

    playlists: Any  # a Table of training rows: playlist_id, position, track_id
    track_index: pd.DataFrame  # the catalog frame: track_id, count, n_playlists
    track_order_report: dict  # data_processing's order check
    name: str = ""  # the candidate's name
    validation_queries: pd.DataFrame | None = None  # reads_validation
    evaluation: EvaluationParams | None = None  # reads_validation
    components: dict[str, Recommender] = field(default_factory=dict)  # components, fitted
    trained: Any = None  # shared_training: the shared first stage's output, when shared
    refit_component: Callable[[str], Recommender] | None = None  # refit: another candidate
    protocol: str | None = None  # the evaluation protocol; None: next_track where in play order

    @property
    def in_play_order(self) -> bool:
        """Whether the rows are in play order (else sorted by title: no play order to read)."""
        return in_play_order(self.track_order_report)

    @property
    def reads_order(self) -> bool:
        """Whether a query's order says what comes next: rows in play order, asked for the
        next track (under continuation the target comes from anywhere in the playlist)."""
        return self.in_play_order and (self.protocol or "next_track") == "next_track"


@dataclass
class Fitted:
    """A fit's result: the recommender, its training statistics (``fit_seconds`` at least),
    and, for a kind that ``reads_validation``, its own answers on the validation queries."""

    recommender: Recommender
    stats: dict
    validation: Answers | None = None


@dataclass(frozen=True)
class SharedTraining:
    """A first stage candidates of one kind share when ``key(settings)`` is equal: the first
    candidate by name trains (``train(inputs, settings)``), the others read its output."""

    key: Callable[[Any], str]
    train: Callable[[FitInputs, Any], Any]


@dataclass(frozen=True)
class Kind:
    """One kind of candidate (see the module doc).

    Attributes:
        simplicity: Lower is simpler; selection prefers the simpler of two candidates within
            the selection rule's paired standard errors of each other.
        baseline: Reported and tested as a baseline (scored on test beside the selected one).
        needs_play_order: Reads the rows' order and has no order-free form: sits out of the
            selection (and out of a blend) when the order check finds the rows sorted by title.
        has_track_vectors: Its recommender holds track vectors (``query_vectors``,
            ``has_vector``), which the report's latent-space map can show.
        search_space: What tuning may change (setting → range); empty: nothing.
        reproducible: The settings under which a fit gives the same result on any machine
            (word2vec: one worker thread); tuning fits with them, so that where its trials go
            and what they find does not depend on thread timing. None: every fit is.
    """

    name: str
    settings: type[Settings]
    fit: Callable[[FitInputs, Any], Fitted]
    simplicity: int
    serving_layer: str
    arrays: tuple[str, ...]
    from_arrays: Callable[..., Any]
    refit: Callable[[FitInputs, Any, Callable[[], Any]], Any] | None = None
    describe: Callable[[Any], dict] | None = None
    baseline: bool = False
    needs_play_order: bool = False
    has_track_vectors: bool = False
    reads_validation: bool = False
    components: Callable[[Any], tuple[str, ...]] | None = None
    shared_training: SharedTraining | None = None
    search_space: Mapping[str, Any] = field(default_factory=dict)
    reproducible: Callable[[Any], Any] | None = None

    def refitted(self, inputs: FitInputs, settings, evaluated: Callable[[], Any]):
        """The recommender refit on ``inputs``' rows (``refit``, else ``fit``)."""
        if self.refit is not None:
            return self.refit(inputs, settings, evaluated)
        return self.fit(inputs, settings).recommender

    def component_names(self, settings) -> tuple[str, ...]:
        return self.components(settings) if self.components is not None else ()

    def recorded(self, recommender) -> dict:
        """``{"recommender": describe(recommender)}`` for the package's ``metadata.json``, or
        nothing for a kind without ``describe``."""
        return {} if self.describe is None else {"recommender": self.describe(recommender)}

    def rebuild(self, index: TrackIndex, arrays: dict, name: str, description: dict | None):
        """The recommender from a package's arrays (``description``: its ``describe``), with
        the recency the package stored."""
        recommender = self.from_arrays(index, arrays, name, description)
        if RECENCY_ARRAY in arrays:
            recommender.recency = Recency.from_array(arrays[RECENCY_ARRAY])
        return recommender

    def rebuilds(self, description: dict | None) -> bool:
        """Whether :meth:`rebuild` can rebuild it (a described kind needs its description)."""
        return self.describe is None or bool(description)

    def serving_layer_for(self, recommender, k: int):
        """The Keras layer that ranks as ``recommender`` does (imports TensorFlow)."""
        module, _, function = self.serving_layer.partition(":")
        return getattr(importlib.import_module(module), function)(recommender, k)
