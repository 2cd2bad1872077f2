"""Where the Kedro project is, wherever a session starts (a notebook's kernel starts in
notebooks/, tests in a scratch copy)."""

from __future__ import annotations

from pathlib import Path

from kedro.utils import find_kedro_project


def project_root() -> Path:
    """The Kedro project around the current directory (the directory itself if none)."""
    return Path(find_kedro_project(Path.cwd()) or Path.cwd())
