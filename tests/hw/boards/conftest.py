"""Board designs are elaborated once per test process (about ten seconds each)."""
from __future__ import annotations

import functools

import pytest


@functools.lru_cache(maxsize=None)
def prepared(board: str, width: int, ingress: bool = False):
    from ringgate.app.build import prepare
    from ringgate.hw.boards import BOARDS
    from ringgate.hw.boards.top import BoardDesign, IngressBlackBox

    return prepare(BoardDesign(BOARDS[board], width=width, ingress=IngressBlackBox if ingress else None))


@pytest.fixture
def prepare_board():
    return prepared


@functools.lru_cache(maxsize=None)
def checked(board: str, width: int):
    """The checks that run without Vivado (yosys, XDC checker, lint) of a complete top; the
    yosys run is cached by content across processes."""
    from ringgate.app.build import check_board
    from ringgate.hw.boards import BOARDS
    from ringgate.hw.boards.top import BoardDesign

    return check_board(BoardDesign(BOARDS[board], width=width))
