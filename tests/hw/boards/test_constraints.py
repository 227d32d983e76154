"""constraints/ holds what the board definitions write: both widths share the board file, the
x16 file adds lanes 8-15, and the files are current."""
from __future__ import annotations

from pathlib import Path

import pytest

from ringgate.hw.boards import BOARDS

from .conftest import prepared

CONSTRAINTS = Path(__file__).resolve().parents[3] / "constraints"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_constraints_are_current(board):
    x8, x16 = prepared(board, 256), prepared(board, 512)
    assert list(x8.xdc) == [f"{board}.xdc"] and list(x16.xdc) == [f"{board}.xdc", f"{board}_x16.xdc"]
    assert x8.xdc[f"{board}.xdc"] == x16.xdc[f"{board}.xdc"]
    for name, text in x16.xdc.items():
        assert (CONSTRAINTS / name).read_text() == text, \
            f"constraints/{name} is stale: run `ringgate constraints` and commit the result"


def test_constraints_folder_has_nothing_else():
    assert sorted(p.name for p in CONSTRAINTS.iterdir()) == sorted(
        f"{b}{suffix}.xdc" for b in BOARDS for suffix in ("", "_x16"))


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_x16_file_is_lanes_8_to_15(board):
    text = prepared(board, 512).xdc[f"{board}_x16.xdc"]
    ports = [line.split("{")[-1].rstrip("}]") for line in text.splitlines() if line.startswith("set_property")]
    assert len(ports) == 32 and all(p.startswith("pcie_lanes_1__") for p in ports)
    assert "create_clock" not in text and "false_path" not in text
