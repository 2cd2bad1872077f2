"""The candidates every pipeline is built from are read as the run reads its parameters."""

import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from music_recsys.pipelines.candidates import declared_candidates, parameters


def test_a_partial_local_override_merges_as_the_run_merges_it(project):
    """conf/local changing one setting of a blend keeps its components: the pipeline is built
    from what the run will use (a hand-made loader without settings.py's soft merge built a
    blend with no components)."""
    (project / "conf/local/parameters_data_science.yml").write_text(
        yaml.safe_dump({"blend": {"blend": {"depth": 50}}})
    )
    bootstrap_project(project)
    found = declared_candidates(str(project / "conf"))
    blend = found["blend"].validated()
    assert blend.depth == 50 and len(blend.components) > 1
    with KedroSession.create(project_path=project) as session:
        run_parameters = session.load_context().params
    for name, candidate in found.items():
        ((kind, settings),) = run_parameters[name].items()
        settings = settings.model_dump() if hasattr(settings, "model_dump") else settings
        assert kind == candidate.kind.name
        assert candidate.kind.settings(**settings) == candidate.validated(), name
    assert parameters(str(project / "conf"))["blend"] == {"blend": found["blend"].settings}
