"""One call from a backend name to a running ring consumer: what the gateway's ``serve`` uses.

``open_ring(backend, callback)`` returns a :class:`RingConsumer` in manual-release mode: when the
callback returns a future (the gateway's ``RingFeed.submit`` does: it completes once the batch is
journaled), the consumer's doorbell passes a batch only after that future succeeded, so an
accepted entry survives a host crash. A failed future keeps the batch unreleased: the device
waits (its BRAM ring absorbs, the wire drops and counts) rather than lose it.

Where the device is:

- ``model``: the in-process golden model (:class:`ModelDevice`); orders reach it through
  ``consumer.device.feed(entries)``.
- ``sim``: a running co-simulation (``ringgate cosim``; :mod:`ringgate.sim.cosim.device`), found
  through ``sim_dir`` or the ``RINGGATE_SIM_DIR`` environment variable.
- ``linux``: a board through VFIO, by PCI address ``bdf`` or ``RINGGATE_VFIO_BDF``.

Backends are found by name among the ``ringgate.devices`` entry points (``pyproject.toml``), so
the driver never imports the simulation layer that provides ``sim``, and another package can
register a backend of its own.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from importlib import metadata
from typing import Callable

import numpy as np

from .consumer import RingConsumer
from .device import Device, DeviceError

__all__ = ["backends", "open_device", "open_ring"]

ENTRY_POINT_GROUP = "ringgate.devices"
log = logging.getLogger(__name__)


def backends() -> dict[str, metadata.EntryPoint]:
    """Device backends by name: the ``ringgate.devices`` entry points of installed packages."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def open_device(backend: str, **kw) -> Device:
    """Open the device of backend ``backend`` (``model``, ``sim``, ``linux``, or one another
    package registers); ``kw`` go to the backend's ``open`` (``sim_dir=``, ``bdf=``, ...)."""
    found = backends()
    if backend not in found:
        raise DeviceError(f"unknown backend {backend!r}: choose one of {', '.join(sorted(found)) or '(none installed)'}")
    try:
        factory = found[backend].load()
    except ImportError as e:
        raise DeviceError(f"backend {backend!r} cannot be loaded: {e}") from e
    return factory(**{k: v for k, v in kw.items() if v is not None})


def open_ring(backend: str, callback: Callable[[np.ndarray], object], *, ring_size: int = 1 << 16,
              sim_dir: str | None = None, bdf: str | None = None, poll: str = "adaptive",
              device_args: dict | None = None, **consumer_args) -> RingConsumer:
    """Open ``backend``'s device, configure and enable its ring, and return the consumer.

    ``poll`` is the consumer's wait mode (``busy``, ``adaptive`` or ``sleep``, see
    :class:`RingConsumer`); ``adaptive`` keeps an idle feed thread near 0% of a core and a busy
    one at busy-poll latency."""
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
