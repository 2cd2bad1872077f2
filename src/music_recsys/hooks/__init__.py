"""Project hooks (registered in ``settings.py``), one module a subject: the demo data
(:mod:`.demo_data`), the engines' sessions (:mod:`.engines`), what the run logs and says
(:mod:`.tracking`), what each node costs (:mod:`.profiling`)."""

from music_recsys.hooks.demo_data import DemoDataHook
from music_recsys.hooks.engines import DuckDBHook, SparkHook
from music_recsys.hooks.profiling import NodeProfileHook
from music_recsys.hooks.tracking import ProtocolTagHook, RunSummaryHook, TypedParamsTrackingHook

__all__ = [
    "DemoDataHook",
    "DuckDBHook",
    "NodeProfileHook",
    "ProtocolTagHook",
    "RunSummaryHook",
    "SparkHook",
    "TypedParamsTrackingHook",
]
