"""``DaskRunner``: a Kedro runner that runs each node as a task on a Dask ``distributed`` cluster.

Use it with ``kedro run --runner music_recsys.runners.DaskRunner``. Its parts:
:mod:`.cluster` (the client, what a worker does with a node), :mod:`.scheduling` (the runner:
what runs when, the driver's hooks), :mod:`.persistence` (what crosses processes) and
:mod:`.kedro_private` (the private Kedro API it relies on, with the version checked). Kedro's documented Dask
runner (docs: deployment, "Dask") predates Kedro 1.x; this one is built on Kedro 1.x's own
``AbstractRunner`` and on what its ``Task`` does, with one rule: **a worker touches only
persisted data and never MLflow**.

What runs where:

- **Workers** load a node's inputs from their datasets, run the node and save its outputs to
  their datasets. The project's DuckDB settings are applied in each worker first.
- **The driver** (the ``kedro run`` process) schedules: a node is submitted once the nodes
  producing its inputs are done, so independent nodes (each candidate's fit, each evaluation)
  run side by side. It loads the ``params:`` inputs and calls the node hooks with them; it
  loads and saves every kedro-mlflow dataset (artifacts, metrics, models), so that everything
  MLflow logs lands in the run kedro-mlflow's hook opened in the driver (kedro-mlflow is not
  safe from parallel workers: kedro-mlflow issues #624, #646, #689).

Datasets that cross processes must be persisted. ``MemoryDataset``\\s (outputs with no catalog
entry, and in-memory catalog entries such as ``parsed_lines``) are replaced for the run by
:class:`ScratchDataset` files under ``data/.dask_scratch/<run id>/``, deleted as soon as no node
needs them and at the end of the run.

Node hooks are called in the driver with the inputs the driver loaded (the parameters and any
kedro-mlflow dataset), not with every input, and ``after_node_run`` sees only the outputs that
came back to the driver (the kedro-mlflow ones); the others are in their datasets. A hook that
measures nodes cannot do so from the driver (it would time the queue, not the node); one that
has a ``record_worker_node(record)`` method (like :class:`music_recsys.hooks.NodeProfileHook`)
gets each node's figures measured on its worker instead of the node and dataset hooks.
"""

from music_recsys.runners.persistence import ScratchDataset
from music_recsys.runners.scheduling import DaskRunner

__all__ = ["DaskRunner", "ScratchDataset"]
