"""README.zh-CN.md stays in step with README.md: the same commands, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.S | re.M)
MARKER = re.compile(r"<!--\s*([a-z-]+)\s*-->")
CODE_CELL = re.compile(r"^\| `([^`]+)`", re.M)


def blocks(name: str) -> list[str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    return ["\n".join(line.strip() for line in b.strip().splitlines()) for b in FENCE.findall(text)]


def test_fenced_command_blocks_are_identical() -> None:
    english, chinese = blocks("README.md"), blocks("README.zh-CN.md")
    assert english, "README.md has no fenced command block"
    assert chinese == english


def test_markers_and_tables_of_commands_match() -> None:
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert MARKER.findall(chinese) == MARKER.findall(english)
    # The commands, variables and folders of the tables, in the same order.
    assert CODE_CELL.findall(chinese) == CODE_CELL.findall(english)
    assert re.search(r"[\u4e00-\u9fff]{20}", chinese)
