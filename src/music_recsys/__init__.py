"""music_recsys: what should play next after this song?

Learns from real playlists which tracks belong together (Kedro pipelines on DuckDB, gensim and
Keras), picks the best recommender on held-out playlists and packages it for SageMaker.
"""

import os
import warnings

# No network beyond the package index: switch off the usage telemetry that Kedro, MLflow and
# friends would otherwise try to send (and print errors about when offline). A user who wants
# telemetry can still set these variables to something else before running.
for _variable in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY"):
    os.environ.setdefault(_variable, "true")

# Deprecation notices from inside Kedro and kedro-mlflow that a user can do nothing about.
warnings.filterwarnings(
    "ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning
)
warnings.filterwarnings(
    "ignore", message=r".*Add type hints to the `predict` method", category=UserWarning
)

__version__ = "0.1.0"
