import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--waves", action="store_true", default=False,
                     help="build Verilator models with FST tracing and dump waves per cocotb test")


def pytest_configure(config):
    if config.getoption("--waves"):
        os.environ["RINGGATE_WAVES"] = "1"
