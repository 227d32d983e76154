"""Gateway test fixtures (helpers live in helpers.py)."""
from __future__ import annotations

import pytest

from .helpers import setup_market, start_env


@pytest.fixture(scope="module")
def env():
    e, stop = start_env()
    setup_market(e.admin)
    yield e
    stop()
