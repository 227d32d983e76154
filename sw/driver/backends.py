"""One call from a backend name to a running ring consumer: what the gateway's ``serve`` uses.

``open_ring(backend, callback)`` returns a :class:`RingConsumer` in manual-release mode: when the
callback returns a future (the gateway's ``RingFeed.submit`` does: it completes once the batch is
journaled), the consumer's doorbell passes a batch only after that future succeeded, so an
accepted entry survives a host crash. A failed future keeps the batch unreleased: the device
waits (its BRAM ring absorbs, the wire drops and counts) rather than lose it.

Where the device is:

- ``model``: the in-process golden model (:class:`ModelDevice`); orders reach it through
  ``consumer.device.feed(entries)``.
- ``sim``: a running co-simulation (``ringgate run``'s ``sim/cosim``), found through ``sim_dir``
  or the ``RINGGATE_SIM_DIR`` environment variable.
- ``linux``: a board through VFIO, by PCI address ``bdf`` or ``RINGGATE_VFIO_BDF``.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from typing import Callable

import numpy as np

from .consumer import RingConsumer
from .device import Device, DeviceError, ModelDevice

__all__ = ["BACKENDS", "open_device", "open_ring"]

BACKENDS = ("model", "sim", "linux")
log = logging.getLogger(__name__)


def open_device(backend: str, *, sim_dir: str | None = None, bdf: str | None = None, **kw) -> Device:
    if backend == "model":
        return ModelDevice(**kw)
    if backend == "sim":
        sim_dir = sim_dir or os.environ.get("RINGGATE_SIM_DIR")
        if not sim_dir:
            raise DeviceError("sim backend: give the co-simulation's directory (sim_dir=, or set "
                              "RINGGATE_SIM_DIR)")
        from .sim import SimDevice
        return SimDevice(sim_dir, **kw)
    if backend == "linux":
        bdf = bdf or os.environ.get("RINGGATE_VFIO_BDF")
        if not bdf:
            raise DeviceError("linux backend: give the board's PCI address (bdf=, or set "
                              "RINGGATE_VFIO_BDF, e.g. 0000:01:00.0)")
        from .vfio import VfioDevice
        return VfioDevice(bdf, **kw)
    raise DeviceError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def open_ring(backend: str, callback: Callable[[np.ndarray], object], *, ring_size: int = 1 << 16,
              sim_dir: str | None = None, bdf: str | None = None, poll: str = "sleep",
              device_args: dict | None = None, **consumer_args) -> RingConsumer:
    """Open ``backend``'s device, configure and enable its ring, and return the consumer."""
    dev = open_device(backend, sim_dir=sim_dir, bdf=bdf, **(device_args or {}))
    consumer: RingConsumer | None = None
    # Batches may become durable out of order; the doorbell only ever passes a prefix of them.
    pending: deque[list] = deque()          # [end, durable] in delivery order
    lock = threading.Lock()

    def settle(item, ok: bool) -> None:
        with lock:
            if not ok:
                return
            item[1] = True
            upto = None
            while pending and pending[0][1]:
                upto = pending.popleft()[0]
        if upto is not None:
            consumer.release(upto)

    def on_batch(view: np.ndarray):
        item = [int(view["seq"][-1]) + 1, False]
        with lock:
            pending.append(item)
        result = callback(view)
        if hasattr(result, "add_done_callback"):
            def done(fut, item=item):
                failed = fut.cancelled() or fut.exception() is not None
                if failed:
                    log.error("ring batch ending at %d not durable (%s): kept unreleased", item[0],
                              "cancelled" if fut.cancelled() else fut.exception())
                settle(item, not failed)
            result.add_done_callback(done)
        else:
            settle(item, True)
        return result

    consumer = RingConsumer.open(dev, ring_size, callback=on_batch, manual_release=True, poll=poll,
                                 **consumer_args)
    return consumer
