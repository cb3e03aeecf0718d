"""Every ```python block in README.md and docs/**/*.md runs, so the documentation cannot rot.

Rules (also stated in docs/index.md):

* the blocks of one file run in order in one namespace (a page reads as one session);
* the working directory is a fresh temporary directory, so a page may write files there;
* a block is skipped only when the line right before its fence is
  ``<!-- docs-test: skip (the reason) -->`` with a non-empty reason;
* a page that uses the real data sets (not shipped; ``../shared/data`` or ``$CHOICEKIT_DATA``)
  says ``<!-- docs-test: requires-shared-data -->`` and is skipped when they are absent;
* other fenced blocks (```text, ```toml, ```bash, ...) are not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]*)\)\s*-->")
_NEEDS_DATA = "<!-- docs-test: requires-shared-data -->"


def _have_toml() -> bool:
    import importlib.util
    import sys

    return sys.version_info >= (3, 11) or importlib.util.find_spec("tomli") is not None


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """``(line number, code, skip reason or None)`` of each ```python block."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        lang, start = m.group(1), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if lang != "python":
            continue
        prev = lines[start - 1] if start > 0 else ""
        skip = _SKIP.search(prev)
        reason = None
        if skip is not None:
            reason = skip.group("reason").strip()
            if not reason:
                raise AssertionError(f"line {start}: a skipped block must state its reason")
        blocks.append((start + 1, "\n".join(body) + "\n", reason))
    return blocks


def test_docs_exist() -> None:
    names = {p.relative_to(REPO).as_posix() for p in PAGES}
    for page in ("README.md", "docs/getting-started.md", "docs/theory.md", "docs/api.md",
                 "docs/coming-from.md", "docs/cli.md"):
        assert page in names, page
    assert sum(len(python_blocks(p.read_text(encoding="utf-8"))) for p in PAGES) >= 20


def test_readme_links_resolve() -> None:
    """Relative links in README and docs point at files that exist."""
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_skip_marker_parsing() -> None:
    text = ("```python\nx = 1\n```\n<!-- docs-test: skip (downloads) -->\n```python\ny\n```\n"
            "```toml\n[a]\n```\n")
    blocks = python_blocks(text)
    assert [(b[1], b[2]) for b in blocks] == [("x = 1\n", None), ("y\n", "downloads")]
    with pytest.raises(AssertionError, match="reason"):
        python_blocks("<!-- docs-test: skip () -->\n```python\nz\n```\n")


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_page_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        request: pytest.FixtureRequest) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    if not blocks:
        pytest.skip("no python blocks")
    if "choicekit.spec.specfile" in text and not _have_toml():
        pytest.skip("no TOML reader (Python 3.10 without tomli)")
    if _NEEDS_DATA in text:
        request.getfixturevalue("shared_data")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line, code, reason in blocks:
        if reason is not None:
            continue
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)  # noqa: S102
        except Exception as err:
            raise AssertionError(f"{page.relative_to(REPO)} block at line {line} failed: "
                                 f"{type(err).__name__}: {err}") from err
    import matplotlib.pyplot as plt

    plt.close("all")


def test_api_reference_names_exist_and_cover_exports() -> None:
    """docs/api.md mentions every top-level export, and the names it shows exist."""
    import choicekit as ck

    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for name in ck.__all__:
        assert re.search(rf"\b{re.escape(name)}\b", text), f"ck.{name} is not in docs/api.md"
    for name in re.findall(r"`ck\.(\w+)", text):
        assert hasattr(ck, name), f"docs/api.md shows ck.{name}, which does not exist"
    for name in re.findall(r"`ck\.plots\.(\w+)`", text):
        assert hasattr(ck.plots, name), name
    sections = {"## Data": ck.ChoiceData, "## Model": ck.MNL, "## Results": ck.MNLResults,
                "## Nested and cross-nested logit": ck.NestedLogit}
    for header, cls in sections.items():
        body = text.split(header, 1)[1].split("\n## ", 1)[0]
        for name in re.findall(r"`\.(\w+)", body) + re.findall(
                rf"`{cls.__name__}\.(\w+)", body):
            assert hasattr(cls, name), f"docs/api.md {header}: {cls.__name__}.{name} missing"
    for name in ck.datasets.__all__:
        assert name in text, f"ck.datasets.{name} is not in docs/api.md"
