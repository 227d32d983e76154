"""BAR0 access by register name: the driver's side of the register-map contract.

The map (``ringgate.contracts.regmap``) says where each register and field is; this module
says how to talk to it over any 32-bit register I/O (a mapped BAR, a register mailbox, a
cocotb BAR window): 64-bit registers as low half then high half, the enable sequence with
its refusal path, error decoding. One *plan* per operation is written once as a generator of
``("r", offset)`` / ``("w", offset, value)`` steps and driven by :class:`Registers` (sync) and
:class:`AsyncRegisters` (async, cocotb testbenches), so the two can never disagree.
"""
from __future__ import annotations

from typing import Protocol

from ringgate.contracts.datagram import COUNTER_NAMES, Endpoint, IngressControl, IngressStatus
from ringgate.contracts.regmap import ID_VALUE, REGMAP, Control, Error, RegisterMap, Status, config_errors

__all__ = ["Registers", "AsyncRegisters", "RegisterIO", "AsyncRegisterIO", "ConfigError", "TlpLostError",
           "IngressError", "check_config", "decode_errors"]

ERROR_MEANING = {f.name: f.doc for f in REGMAP["ERROR"].fields}
BUSY_POLLS = 10000          # STATUS reads while waiting for the writer to stop
INGRESS_POLLS = 1000        # INGRESS_STATUS reads while waiting for a change to cross into the MAC clock
INGRESS_CONFIG = ("MAC_ADDR", "IP_ADDR", "UDP_PORT")


class RegisterIO(Protocol):
    def read32(self, offset: int) -> int: ...
    def write32(self, offset: int, value: int) -> None: ...


class AsyncRegisterIO(Protocol):
    async def read32(self, offset: int) -> int: ...
    async def write32(self, offset: int, value: int) -> None: ...


def decode_errors(value: int) -> list[str]:
    """Names of the ``ERROR`` bits set in ``value``."""
    return [e.name for e in Error if value & e]


class ConfigError(RuntimeError):
    """The device refused an enable; ``errors`` holds the ``ERROR`` bits that say why."""

    def __init__(self, errors: int, what: str):
        self.errors = errors
        super().__init__(f"{what}: {', '.join(decode_errors(errors)) or 'no error bit set'}")


class TlpLostError(RuntimeError):
    """The writer stopped with ``ERROR.TLP_LOST``: TLPs in flight when bus mastering was cleared
    (or whose sequence numbers never came back) may not have reached host memory. Entries from
    the cursor line in host memory up to ``sent`` are lost; the cursor line never covers them,
    so nothing stale is read. ``start(...)`` resynchronises: it continues at SENT."""

    def __init__(self, sent: int):
        self.sent = sent
        super().__init__(f"TLP_LOST: the writer stopped; entries from the host's cursor up to SENT={sent} "
                         "are lost (start() resumes at SENT)")


class IngressError(RuntimeError):
    """The Ethernet ingress could not be set up: absent from the device, its configuration not
    taken, or its MAC-clock side never answering (no MAC clock: link or transceiver down)."""


def check_config(ring_base: int, ring_size: int, cursor_addr: int) -> None:
    """Host-side check of a configuration: the device's validation rule (``config_errors``),
    refused before any register is written, with the reasons named."""
    err = config_errors(ring_base, ring_size, cursor_addr)
    if err:
        raise ValueError(f"ring_base {ring_base:#x}, ring_size {ring_size}, cursor_addr {cursor_addr:#x}: "
                         + "; ".join(f"{e.name} ({ERROR_MEANING[e.name]})" for e in Error if err & e))


class _Plan:
    """Register access plans shared by the sync and async accessors (generators yielding
    ("r", offset) or ("w", offset, value), receiving read results)."""

    def __init__(self, regmap: RegisterMap):
        self.map = regmap

    def read(self, name):
        r = self.map[name]
        lo = yield ("r", r.offset)
        if r.width == 32:
            return lo
        hi = yield ("r", r.offset + 4)
        return lo | hi << 32

    def write(self, name, value):
        r = self.map[name]
        value = int(value)
        if not 0 <= value <= r.mask:
            raise ValueError(f"{name}: value {value:#x} does not fit {r.width} bits")
        yield ("w", r.offset, value & 0xFFFF_FFFF)
        if r.width == 64:
            yield ("w", r.offset + 4, value >> 32)

    def read_all(self, names):
        out = {}
        for name in names:
            out[name] = yield from self.read(name)
        return out

    def poll(self, name, done, polls):
        """Read ``name`` until ``done(value)``; False if it never was in ``polls`` reads."""
        for _ in range(polls):
            value = yield from self.read(name)
            if done(value):
                return True
        return False

    def check_lost(self):
        err = yield from self.read("ERROR")
        if err & Error.TLP_LOST:
            sent = yield from self.read("SENT")
            raise TlpLostError(sent)

    def _ingress_wait(self, enabled):
        if (yield from self.poll("INGRESS_STATUS", lambda st: bool(st & IngressStatus.ENABLED) == enabled,
                                 INGRESS_POLLS)):
            return
        raise IngressError(f"INGRESS_STATUS.ENABLED did not {'rise' if enabled else 'fall'} in {INGRESS_POLLS} "
                           "reads: the ingress's MAC-clock side is not running (MAC clock, transceiver or "
                           "Ethernet link down?)")

    def start_ingress(self, local):
        """Receive orders addressed to ``local`` (an :class:`~ringgate.contracts.datagram.Endpoint`:
        MAC_ADDR, IP_ADDR, UDP_PORT) and enable. Already enabled with exactly this destination: left
        alone (its sessions keep their numbering); otherwise disabled, configured, read back, enabled.
        Returns True if it (re)started the ingress."""
        if "INGRESS_CONTROL" not in {r.name for r in self.map}:
            raise IngressError("this register map has no ingress group")
        caps = yield from self.read("INGRESS_CAPS")
        if caps == 0:
            raise IngressError("the device has no Ethernet ingress (INGRESS_CAPS reads 0)")
        want = dict(zip(INGRESS_CONFIG, (local.mac_int, local.ip_int, local.port)))
        have = yield from self.read_all(INGRESS_CONFIG)
        st = yield from self.read("INGRESS_STATUS")
        if st & IngressStatus.ENABLED:
            if have == want:
                return False
            yield from self.write("INGRESS_CONTROL", 0)     # the destination is locked while enabled
            yield from self._ingress_wait(False)
        for name, value in want.items():
            yield from self.write(name, value)
        for name, value in want.items():
            got = yield from self.read(name)
            if got != value:
                raise IngressError(f"{name} reads {got:#x} after writing {value:#x}")
        yield from self.write("INGRESS_CONTROL", IngressControl.ENABLE)
        yield from self._ingress_wait(True)
        return True

    def ingress_counters(self):
        """Every ingress counter from one MAC-clock instant (a snapshot), by name."""
        yield from self.write("INGRESS_CONTROL", IngressControl.SNAPSHOT)
        if not (yield from self.poll("INGRESS_STATUS", lambda st: not st & IngressStatus.SNAPSHOT_BUSY,
                                     INGRESS_POLLS)):
            raise IngressError("INGRESS_STATUS.SNAPSHOT_BUSY never cleared: the MAC-clock side is not running")
        return (yield from self.read_all(COUNTER_NAMES))

    def start(self, ring_base, ring_size, cursor_addr, batch_limit, cursor_interval, consumed):
        check_config(ring_base, ring_size, cursor_addr)
        ident = yield from self.read("ID")
        if ident != ID_VALUE:
            raise RuntimeError(f"BAR0 ID {ident:#010x} is not ringgate's {ID_VALUE:#010x}")
        yield from self.write("CONTROL", 0)
        if not (yield from self.poll("STATUS", lambda st: not st & Status.BUSY, BUSY_POLLS)):
            raise RuntimeError("writer still BUSY after disable")
        yield from self.write("RING_BASE", ring_base)
        yield from self.write("RING_SIZE", ring_size)
        yield from self.write("CURSOR_ADDR", cursor_addr)
        yield from self.write("BATCH_LIMIT", batch_limit)
        yield from self.write("CURSOR_INTERVAL", cursor_interval)
        sent = yield from self.read("SENT")
        yield from self.write("DOORBELL", sent if consumed is None else consumed)
        yield from self.write("ERROR", self.map["ERROR"].mask)
        yield from self.write("CONTROL", Control.ENABLE)
        ctl = yield from self.read("CONTROL")
        if not ctl & Control.ENABLE:
            err = yield from self.read("ERROR")
            raise ConfigError(err, "enable refused")
        return sent


def _drive_sync(io, gen):
    try:
        op = next(gen)
        while True:
            if op[0] == "r":
                op = gen.send(io.read32(op[1]))
            else:
                io.write32(op[1], op[2])
                op = next(gen)
    except StopIteration as stop:
        return stop.value


async def _drive_async(io, gen):
    try:
        op = next(gen)
        while True:
            if op[0] == "r":
                op = gen.send(await io.read32(op[1]))
            else:
                await io.write32(op[1], op[2])
                op = next(gen)
    except StopIteration as stop:
        return stop.value


class Registers:
    """Named BAR0 access over any object with ``read32(offset)`` / ``write32(offset, value)``.

    >>> regs = Registers(bar)                     # doctest: +SKIP
    >>> first = regs.start(ring_base, 1024, cursor_addr)
    >>> regs.doorbell(consumed)
    """

    def __init__(self, io: RegisterIO, regmap: RegisterMap = REGMAP):
        self.io = io
        self._plan = _Plan(regmap)

    def read(self, name: str) -> int:
        return _drive_sync(self.io, self._plan.read(name))

    def write(self, name: str, value: int) -> None:
        _drive_sync(self.io, self._plan.write(name, value))

    def fields(self, name: str) -> dict[str, int]:
        """The register's bit fields by name (``fields("STATUS")["MPS"]``)."""
        return self._plan.map[name].unpack(self.read(name))

    def doorbell(self, consumed: int) -> None:
        self.write("DOORBELL", consumed)

    def errors(self) -> list[str]:
        return decode_errors(self.read("ERROR"))

    def clear_errors(self) -> None:
        self.write("ERROR", self._plan.map["ERROR"].mask)

    def check_lost(self) -> None:
        """Raise :class:`TlpLostError` if the writer stopped after losing TLPs in flight."""
        _drive_sync(self.io, self._plan.check_lost())

    def start(self, ring_base: int, ring_size: int, cursor_addr: int, *, batch_limit: int = 16,
              cursor_interval: int = 1, consumed: int | None = None) -> int:
        """Disable, configure, set the doorbell, enable; returns SENT (the first sequence the
        host will see). Raises ConfigError (with the ERROR bits) if the device refuses."""
        return _drive_sync(self.io, self._plan.start(ring_base, ring_size, cursor_addr, batch_limit,
                                                     cursor_interval, consumed))

    def stop(self) -> None:
        self.write("CONTROL", 0)

    def start_ingress(self, local: Endpoint) -> bool:
        """Set the ingress's destination (MAC, IPv4, UDP port) and enable it; see ``_Plan``."""
        return _drive_sync(self.io, self._plan.start_ingress(local))

    def ingress_counters(self) -> dict[str, int]:
        """The ingress's counters (FRAMES, ACCEPTED, DROP_* ...) from one snapshot."""
        return _drive_sync(self.io, self._plan.ingress_counters())


class AsyncRegisters:
    """The same accessors for an async register I/O (cocotb testbenches)."""

    def __init__(self, io: AsyncRegisterIO, regmap: RegisterMap = REGMAP):
        self.io = io
        self._plan = _Plan(regmap)

    async def read(self, name: str) -> int:
        return await _drive_async(self.io, self._plan.read(name))

    async def write(self, name: str, value: int) -> None:
        await _drive_async(self.io, self._plan.write(name, value))

    async def fields(self, name: str) -> dict[str, int]:
        return self._plan.map[name].unpack(await self.read(name))

    async def doorbell(self, consumed: int) -> None:
        await self.write("DOORBELL", consumed)

    async def errors(self) -> list[str]:
        return decode_errors(await self.read("ERROR"))

    async def check_lost(self) -> None:
        await _drive_async(self.io, self._plan.check_lost())

    async def start(self, ring_base: int, ring_size: int, cursor_addr: int, *, batch_limit: int = 16,
                    cursor_interval: int = 1, consumed: int | None = None) -> int:
        return await _drive_async(self.io, self._plan.start(ring_base, ring_size, cursor_addr, batch_limit,
                                                            cursor_interval, consumed))

    async def stop(self) -> None:
        await self.write("CONTROL", 0)

    async def start_ingress(self, local: Endpoint) -> bool:
        return await _drive_async(self.io, self._plan.start_ingress(local))

    async def ingress_counters(self) -> dict[str, int]:
        return await _drive_async(self.io, self._plan.ingress_counters())
