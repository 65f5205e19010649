"""The README stays short and every relative link in the docs leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 200
# [text](target): the target up to the closing parenthesis; images too.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def documents() -> list[Path]:
    """The README and every file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (links and headings there are not markdown)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, numbered as GitHub numbers repeats."""
    found: set[str] = set()
    repeats: dict[str, int] = {}
    for line in prose(path.read_text()):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = repeats.get(base, 0)
            repeats[base] = count + 1
            found.add(f"{base}-{count}" if count else base)
    return found


def broken_links(path: Path) -> list[str]:
    """The relative links of one markdown file whose file or heading does not exist."""
    broken = []
    # Joined, so a link whose text wraps onto the next line is still seen.
    for target in LINK.findall("\n".join(prose(path.read_text()))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target} (no such heading)")
    return broken


def test_the_readme_is_short() -> None:
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_the_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text[text.index("```sh") :].split("```")[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands[1:] == ["make demo", "make test"]


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_check_sees_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Exactly once, at least (`twice`)\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Local\n\n"
        "[ok](other.md) [ok](other.md#exactly-once-at-least-twice) [ok](#local)"
        " [web](https://example.com/x.md)\n"
        "[gone](missing.md) [gone](other.md#nowhere) [gone](#elsewhere) [wrapped\n"
        "text](other.md#wrapped)\n"
        "```\n[in code](not-a-link.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md (no such file)",
        "other.md#nowhere (no such heading)",
        "#elsewhere (no such heading)",
        "other.md#wrapped (no such heading)",
    ]


def test_repeated_headings_get_numbered_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("## Settings\n\n## Settings\n")
    assert anchors(page) == {"settings", "settings-1"}
