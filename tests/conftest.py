import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--waves", action="store_true", default=False,
                     help="build Verilator models with FST tracing and dump waves per cocotb test")


def pytest_configure(config):
    if config.getoption("--waves"):
        os.environ["RINGGATE_WAVES"] = "1"


def pytest_collection_modifyitems(config, items):
    # The long runs (syntheses, proofs, long simulations) first: with xdist's load scheduling both
    # workers then share them and the short tests fill in at the end, instead of one worker
    # finishing a proof alone while the other idles. A stable sort keeps the rest in file order.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
