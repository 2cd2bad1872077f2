"""Project settings. There is no need to edit this file unless you want to change values
from the Kedro defaults. For further information, including these default values, see
https://docs.kedro.org/en/stable/configure/configuration_basics/#configuration"""

# Instantiated project hooks. kedro-mlflow registers its own hook through its entry point.
from music_recsys.hooks import (
    DemoDataHook,
    DuckDBHook,
    NodeProfileHook,
    ProtocolTagHook,
    RunSummaryHook,
    SparkHook,
    TypedParamsTrackingHook,
)
from music_recsys.project import project_root

HOOKS = (
    DuckDBHook(),
    SparkHook(),
    DemoDataHook(),
    TypedParamsTrackingHook(),
    ProtocolTagHook(),
    NodeProfileHook(),
    RunSummaryHook(),
)

# Keyword arguments to pass to the `CONFIG_LOADER_CLASS` constructor.
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft"},
    # conf/<env>/duckdb.yml: DuckDB settings, applied by music_recsys.hooks.DuckDBHook.
    # conf/<env>/spark.yml: the SparkSession of `--env spark`, started by
    # music_recsys.hooks.SparkHook.
    "config_patterns": {"duckdb": ["duckdb*", "duckdb*/**"], "spark": ["spark*", "spark*/**"]},
    # ${project_root:} in configuration: the project's absolute path, wherever Kedro is started
    # from (a notebook's kernel starts in notebooks/). mlflow.yml uses it so that every session
    # tracks into the same sqlite:///<project>/mlflow.db.
    "custom_resolvers": {"project_root": lambda: str(project_root())},
}
