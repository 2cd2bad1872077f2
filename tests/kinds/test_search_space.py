"""Every kind's search space: it holds the conf's settings (the first trial) and its ends make
valid settings."""

import pytest
import yaml

from music_recsys.kinds import candidates, registry
from music_recsys.kinds.search_space import Choice, FloatRange, IntRange, outside
from tests.conftest import PROJECT_ROOT

CONF = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_data_science.yml").read_text())
SEARCHED = sorted(name for name, k in registry().items() if k.search_space)


def test_every_kind_but_popularity_and_the_blend_declares_a_search_space():
    # The blend tunes its weights on validation itself; popularity has nothing to tune.
    assert set(registry()) - set(SEARCHED) == {"most_popular", "blend"}


@pytest.mark.parametrize("name", sorted(candidates(CONF)))
def test_the_conf_settings_lie_in_their_kind_search_space(name):
    candidate = candidates(CONF)[name]
    assert outside(candidate.kind.search_space, candidate.validated()) == {}


@pytest.mark.parametrize("kind_name", SEARCHED)
def test_each_dimension_names_a_setting_and_its_ends_validate(kind_name):
    kind = registry()[kind_name]
    base = {"sg": 1} if kind_name == "word2vec" else {}
    fields = kind.settings.model_fields
    for setting, dim in kind.search_space.items():
        assert setting in fields, setting
        ends = dim.values if isinstance(dim, Choice) else (dim.low, dim.high)
        for value in ends:
            assert kind.settings(**base | {setting: value}).model_dump()[setting] == value
        if isinstance(dim, IntRange | FloatRange):
            assert dim.low < dim.high
            assert not dim.holds(dim.high * 2 + 1)
