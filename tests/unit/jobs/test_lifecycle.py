"""The lifecycle table is the one truth: the architecture page draws it, and transitions obey it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from longhaul.core.jobs.lifecycle import (
    ACTIVE,
    RESPONSE_STATUS,
    STEP_FOR_STATUS,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Status,
    check_path,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def diagram_moves() -> set[tuple[str, str]]:
    text = DOC.read_text()
    block = re.search(r"```mermaid\nstateDiagram-v2\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no state diagram"
    moves = set()
    for line in block.group(1).splitlines():
        m = re.match(r"\s*(\S+)\s*-->\s*([^:\s]+)", line)
        if m and "[*]" not in m.groups():
            moves.add((m.group(1), m.group(2)))
    return moves


def test_diagram_draws_exactly_the_table() -> None:
    table = {(str(a), str(b)) for a, targets in TRANSITIONS.items() for b in targets}
    assert diagram_moves() == table


def test_every_status_has_a_row_and_terminal_ones_lead_nowhere() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert all(not TRANSITIONS[s] for s in TERMINAL)
    assert set(Status) == ACTIVE | TERMINAL and not ACTIVE & TERMINAL
    # every active status but submitting has a step; every active one shows a Response status
    assert set(STEP_FOR_STATUS) == ACTIVE - {Status.SUBMITTING}
    assert set(RESPONSE_STATUS) == ACTIVE


@pytest.mark.parametrize(
    ("start", "path"),
    [
        ("queued", ("in_progress",)),
        ("completed", ("queued",)),
        ("cancelling", ("in_progress",)),
        ("queued", ("submitting", "completed")),  # must pass through finalizing
    ],
)
def test_moves_the_table_lacks_are_refused(start: str, path: tuple[str, ...]) -> None:
    with pytest.raises(IllegalTransition):
        check_path([start], *path)


def test_moves_the_table_has_pass() -> None:
    check_path(["submitting"], "in_progress", "finalizing")
    check_path(["in_progress", "cancelling"], "finalizing")
