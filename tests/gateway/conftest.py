"""Gateway test fixtures (helpers live in gateway_helpers.py, a uniquely named module)."""
from __future__ import annotations

import pytest

from gateway_helpers import setup_market, start_env


@pytest.fixture(scope="module")
def env():
    e, stop = start_env()
    setup_market(e.admin)
    yield e
    stop()
