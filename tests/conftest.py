"""Shared fixtures: small hand-written playlist files with known answers."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# For processes the tests start (servers, notebooks' kernels).
ENVIRONMENT = dict(os.environ)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

HEADER = b'"user_id", "artistname", "trackname", "playlistname"'

# Every quirk we know of, one per line, with what each line must become. Line 1 is the header.
QUIRK_LINES: list[tuple[bytes, tuple | str]] = [
    # (raw line without its line ending, expected 4 values | "blank" | rejection reason)
    (b'"u1","Artist A","Song 1","rock"', ("u1", "Artist A", "Song 1", "rock")),
    (
        b'"u1","Matthew "Mdot" Finley","Fire","rock"',
        ("u1", 'Matthew "Mdot" Finley', "Fire", "rock"),
    ),
    (
        b'"u1","Fall Out Boy","A Little Less Sixteen Candles, A Little More "Touch Me"","rock"',
        ("u1", "Fall Out Boy", 'A Little Less Sixteen Candles, A Little More "Touch Me"', "rock"),
    ),
    (b"", "blank"),
    (b'"u1","","Local file","rock"', ("u1", "", "Local file", "rock")),
    (b'"u1","Artist B","","rock"', ("u1", "Artist B", "", "rock")),
    (
        b'"u2","Glasvegas","I Feel Wrong (Homosexuality, Pt. 1)",""/"',
        ("u2", "Glasvegas", "I Feel Wrong (Homosexuality, Pt. 1)", '"/'),
    ),
    (b'"u2","The Gaslight Anthem",""45"","mix"', ("u2", "The Gaslight Anthem", '"45"', "mix")),
    (
        b'"u2","SNAP!","Rhythm Is A Dancer - Original 12"","mix"',
        ("u2", "SNAP!", 'Rhythm Is A Dancer - Original 12"', "mix"),
    ),
    (b'"u2","a","b"', "wrong_field_count"),
    (b'"u2","a","b","c","d"', "wrong_field_count"),
    (
        b"u3,Unquoted Artist,Unquoted Song,plain",
        ("u3", "Unquoted Artist", "Unquoted Song", "plain"),
    ),
    (
        b'"u3","Properly ""Escaped"", Artist","x, y","plain"',
        ("u3", 'Properly "Escaped", Artist', "x, y", "plain"),
    ),
    (b'"u3","Bad \xff\xfe bytes","t","plain"', "invalid_utf8"),
    (b"   ", "blank"),
    (
        b'"u3","  Padded Artist ","  Padded Song  ","plain"',
        ("u3", "  Padded Artist ", "  Padded Song  ", "plain"),
    ),
    (b'"u3","Odd|||Artist","Song","plain"', ("u3", "Odd|||Artist", "Song", "plain")),
    (b'"u3","unterminated,t,plain', "malformed_quoting"),
    (b'"u3","Bj\xc3\xb6rk","J\xc3\xb3ga","plain"', ("u3", "Björk", "Jóga", "plain")),
]


def write_quirks_file(path: Path) -> Path:
    """The quirk lines as a file: CRLF endings for the first half, LF after, no final newline."""
    lines = [HEADER] + [raw for raw, _ in QUIRK_LINES]
    half = len(lines) // 2
    body = b"\r\n".join(lines[:half]) + b"\r\n" + b"\n".join(lines[half:])
    path.write_bytes(body)
    return path


@pytest.fixture
def quirks_file(tmp_path: Path) -> Path:
    return write_quirks_file(tmp_path / "quirks.csv")


def expected_rows() -> dict[int, tuple]:
    """Line number → expected values, for the quirk lines that must parse."""
    return {
        number: want
        for number, (_, want) in enumerate(QUIRK_LINES, start=2)
        if isinstance(want, tuple)
    }


def expected_rejections() -> dict[int, str]:
    return {
        number: want
        for number, (_, want) in enumerate(QUIRK_LINES, start=2)
        if isinstance(want, str) and want != "blank"
    }


def require_scale(module: str):
    """``module`` from the ``scale`` extra (pyspark, distributed): the tests that need it are
    skipped where it is not installed, except where MUSIC_RECSYS_REQUIRE_SCALE=1 (CI), where
    its absence fails them."""
    if os.environ.get("MUSIC_RECSYS_REQUIRE_SCALE") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"needs the scale extra (make scale): {module}")


# --- end-to-end runs in scratch copies of the project -------------------------------------------

# Tiny demo data, and a tuning of at most two trials a candidate (the suite checks the wiring;
# the budget is measured in benchmarks/).
TINY_DEMO = {
    "demo_data.n_users": 40,
    "demo_data.n_playlists": 300,
    "demo_data.n_artists": 200,
    "tuning.trials": 4,
    "tuning.max_trials": 2,
}


def copy_project(root: Path, envs: tuple[str, ...] = ()) -> Path:
    """A copy of the project's code and conf/base (never conf/local), and of the named
    environments (e.g. ``spark``), so runs leave the checkout alone."""
    root.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT_ROOT / "conf/base", root / "conf/base", ignore=ignore)
    for env in envs:
        shutil.copytree(PROJECT_ROOT / "conf" / env, root / "conf" / env, ignore=ignore)
    (root / "conf/local").mkdir()
    shutil.copytree(PROJECT_ROOT / "src", root / "src", ignore=ignore)
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch project; runs start in its root, as `kedro run` does."""
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch project after `kedro run` and `kedro run --pipelines deployment` on tiny demo
    data, shared by the tests that look at what a run leaves behind."""
    root = copy_project(tmp_path_factory.mktemp("demo") / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        run(root, **TINY_DEMO)
        run(root, "deployment", **TINY_DEMO)
    return root


def nested(params: dict) -> dict:
    """{"a.b": 1} → {"a": {"b": 1}}, as `kedro run --params a.b=1` does."""
    result: dict = {}
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node = result
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return result


def run(project: Path, pipeline: str | None = None, env: str | None = None, **params) -> None:
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, env=env, runtime_params=nested(params)
    ) as session:
        session.run(pipeline_names=[pipeline] if pipeline else None)


# --- one fitted recommender of every kind, for the serving tests ---------------------------------


@pytest.fixture
def index():
    """Four tracks, most popular first, two of them tied (:func:`tests.shared.small_index`)."""
    from tests.shared import small_index  # noqa: PLC0415

    return small_index()


@pytest.fixture(scope="session")
def fitted_models() -> dict:
    from tests.shared import fit_every_kind  # noqa: PLC0415 - only for the tests that ask

    return fit_every_kind()
