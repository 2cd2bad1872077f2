"""The documentation a newcomer reads: short enough, linked together, each figure once."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", ROOT / "benchmarks/README.md", *DOCS]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FIGURE = re.compile(r"(?<![\w.])\d+\.\d{3,}(?![\w.])")  # a measured figure: 0.163, 0.0647
# Equal values that are different figures.
COINCIDENCES = {
    "0.1695": "EASE's screening at full size; a blend's cross-fitted HR@10 on yes_small",
    "0.005": "a standard error; the spread of sequential rules' windows",
}


def headings(path: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    found = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in found}


def test_the_front_doors_are_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
    assert len((ROOT / "benchmarks/README.md").read_text().splitlines()) <= 400


def test_the_readme_commands_are_the_makefiles_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
    assert {"run", "test"} <= set(targets)
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_every_docs_page_is_listed_and_every_link_lands():
    index = (ROOT / "docs/index.md").read_text()
    assert all(page.name in index for page in DOCS if page.name != "index.md")
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.relative_to(ROOT)} links to missing {target}"
            if anchor and file.suffix == ".md":
                assert anchor in headings(file), f"{page.relative_to(ROOT)}: no #{anchor} in {path}"


def test_each_measured_figure_is_stated_in_one_page():
    """The README's headline lines repeat a benchmark's figure on purpose (with its link); no
    two other pages state the same figure (they would drift)."""
    where = defaultdict(set)
    for page in PAGES[1:]:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for figure in set(FIGURE.findall(text)):
            where[figure].add(page.relative_to(ROOT).as_posix())
    repeated = {
        figure: sorted(pages)
        for figure, pages in where.items()
        if len(pages) > 1 and figure not in COINCIDENCES
    }
    assert not repeated, repeated
