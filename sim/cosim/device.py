"""The co-simulation backend: a :class:`Device` whose BAR0 is the register mailbox of a running
cocotbext-pcie co-simulation and whose DMA buffers live in its shared host-memory file.

    from ringgate.sim.cosim.session import CoSim
    from ringgate.sim.cosim.device import SimDevice
    from ringgate.sw.driver.consumer import RingConsumer

    dev = SimDevice("/dev/shm/ringgate-cosim-xyz")      # the directory of a running co-simulation
    c = RingConsumer.open(dev, 1024, callback=on_batch, poll="sleep")
    c.run(count=n)

Everything the consumer needs is here and nothing else: ``read32/write32`` go through the
mailbox as real 1-DW Memory Read / Write TLPs of the RootComplex (posted writes do not wait;
reads wait for their completion), ``alloc`` hands out 4 KiB aligned pieces of the host memory
file at the bus addresses the simulated device writes, and ``service`` does nothing (the
simulation runs on its own). A restarted host process gets its ring back with
:meth:`SimDevice.buffer` (same bus address, same bytes) and ``RingConsumer.attach``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ringgate.sw.driver.device import Device, DeviceError, DmaBuffer, file_buffer

from .shm import (H_CYCLE, H_ENABLES, H_ERRORS, H_FED, H_HOST_BYTES, H_MPS, H_PUSH_STALLS, H_SIM_PS, H_T0,
                  H_TOTAL, H_WIDTH, HOST_BASE, Mailbox, MailboxTimeout, SimStopped, State)

__all__ = ["SimDevice", "SimStopped", "MailboxTimeout"]


class SimDevice(Device):
    """A running co-simulation as a :class:`Device`: BAR0 through its mailbox, DMA into its
    shared host-memory file.

    Parameters
    ----------
    directory : path
        The co-simulation's directory (``CoSim.directory``): ``mailbox`` and ``hostmem``.
    timeout : float
        Seconds to wait for the simulation to become ready, and for each register read.
    """

    def __init__(self, directory: str | os.PathLike, *, timeout: float = 60.0):
        self.directory = Path(directory)
        self.timeout = timeout
        mbox = self.directory / "mailbox"
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.mb = Mailbox(mbox)
                break
            except (FileNotFoundError, SimStopped, ValueError):
                if time.monotonic() > deadline:
                    raise SimStopped(f"no running co-simulation at {self.directory} (no valid mailbox)") from None
                time.sleep(0.02)
        while self.mb.state == State.STARTING:
            if time.monotonic() > deadline:
                raise MailboxTimeout(f"the co-simulation at {self.directory} did not become ready in {timeout} s")
            time.sleep(0.02)
        if self.mb.state != State.READY:
            raise SimStopped(f"the co-simulation at {self.directory} is not running (state {self.mb.state})")
        self.host_bytes = self.mb[H_HOST_BYTES]
        self.host = file_buffer(self.directory / "hostmem", self.host_bytes, HOST_BASE)

    @classmethod
    def open(cls, sim_dir: str | os.PathLike | None = None, **kw) -> "SimDevice":
        """The ``sim`` backend of :func:`ringgate.sw.driver.open_device`: the co-simulation in
        ``sim_dir``, or ``RINGGATE_SIM_DIR``."""
        sim_dir = sim_dir or os.environ.get("RINGGATE_SIM_DIR")
        if not sim_dir:
            raise DeviceError("sim backend: give the co-simulation's directory (sim_dir=, or set "
                              "RINGGATE_SIM_DIR)")
        return cls(sim_dir, **kw)

    # -- Device ----------------------------------------------------------------------------
    def read32(self, offset: int) -> int:
        return self.mb.read32(offset, timeout=self.timeout)

    def write32(self, offset: int, value: int) -> None:
        self.mb.write32(offset, value, timeout=self.timeout)

    def alloc(self, nbytes: int) -> DmaBuffer:
        """Fresh host memory in the co-simulation's file (4 KiB aligned, never handed out twice)."""
        off = self.mb.alloc(nbytes)
        return self.host.region(off, nbytes)

    def buffer(self, bus: int, nbytes: int) -> DmaBuffer:
        """The host memory at bus address ``bus`` (e.g. the ring of a previous host process)."""
        off = bus - HOST_BASE
        if off < 0 or off + nbytes > self.host_bytes:
            raise ValueError(f"bus range {bus:#x}+{nbytes:#x} is outside the co-simulation's host memory "
                             f"[{HOST_BASE:#x}, {HOST_BASE + self.host_bytes:#x})")
        return self.host.region(off, nbytes)

    def sync(self) -> None:
        """Wait until the simulation has executed every register write posted so far."""
        self.mb.drain(timeout=self.timeout)

    def close(self) -> None:
        mb = self.__dict__.pop("mb", None)
        if mb is not None:
            mb.close()

    # -- what the simulation publishes -----------------------------------------------------
    @property
    def running(self) -> bool:
        return self.mb.state == State.READY

    @property
    def sim_time_ns(self) -> float:
        return self.mb[H_SIM_PS] / 1000

    @property
    def cycle(self) -> int:
        return self.mb[H_CYCLE]

    @property
    def traffic_t0(self) -> int:
        """Device cycle of traffic cycle 0 (entries carry ``ts = t0 + cycle``); 0 before traffic starts."""
        return self.mb[H_T0]

    @property
    def errors(self) -> int:
        """Checks the simulator has failed so far (its scoreboard, protocol); 0 in a good run."""
        return self.mb[H_ERRORS]

    @property
    def fed(self) -> int:
        return self.mb[H_FED]

    @property
    def traffic_total(self) -> int:
        return self.mb[H_TOTAL]

    @property
    def push_stall_cycles(self) -> int:
        return self.mb[H_PUSH_STALLS]

    @property
    def enables(self) -> int:
        return self.mb[H_ENABLES]

    @property
    def max_payload(self) -> int:
        return self.mb[H_MPS]

    @property
    def datapath_bits(self) -> int:
        return self.mb[H_WIDTH]
