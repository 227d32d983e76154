"""Benchmarks: scripts that measure and print (``ringgate perf ...``), one per part of the path.

Speed targets are checked here, never by timed tests: the machines are shared and noisy, so each
benchmark reports ratios measured side by side in one run, and exact cycle counts where the
simulator gives them. Results go into the docs of each part.
"""
import click

from ringgate.app.cli import LazyGroup

__all__ = ["perf"]


@click.group(cls=LazyGroup, lazy={
    "engine": "ringgate.app.perf.engine:command",
    "driver": "ringgate.app.perf.driver:command",
    "gateway": "ringgate.app.perf.gateway:command",
    "pcie": "ringgate.app.perf.pcie:command",
    "ingress": "ringgate.app.perf.ingress:command",
    "sim": "ringgate.app.perf.sim:command",
})
def perf():
    """Benchmarks that measure and print: matching engine, driver, gateway, PCIe DMA writer, network ingress,
    simulation speed."""
