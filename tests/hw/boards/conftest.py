"""Board designs by name (``ringgate.app.build.prepare`` elaborates each once per process)."""
from __future__ import annotations

import functools


def prepared(board: str, width: int, ingress: bool = False):
    from ringgate.app.build import prepare
    from ringgate.hw.boards import BOARDS
    from ringgate.hw.boards.top import BoardDesign, IngressBlackBox

    return prepare(BoardDesign(BOARDS[board], width=width, ingress=IngressBlackBox if ingress else None))


@functools.lru_cache(maxsize=None)
def checked(board: str, width: int):
    """The checks that run without Vivado (yosys, XDC checker, lint) of a complete top; the
    yosys run is cached by content across processes."""
    from ringgate.app.build import check_board
    from ringgate.hw.boards import BOARDS
    from ringgate.hw.boards.top import BoardDesign

    return check_board(BoardDesign(BOARDS[board], width=width))
