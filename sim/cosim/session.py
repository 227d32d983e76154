"""Start, watch and stop a co-simulation in its own process.

    with CoSim(width=256, mps=256, traffic=(entries, cycles)) as sim:
        sim.start()                        # builds (cached), spawns the simulator, waits for READY
        dev = SimDevice(sim.directory)     # in this process or any other
        ...                                # RingConsumer.open(dev, ...).run(count=...)
        summary = sim.stop()               # results.json as a dict; arrays in sim.results()

The simulator runs ``ringgate.sim.cosim.tb_cosim`` under cocotb + Verilator (``python -m
ringgate.sim.cosim.session <json>`` is the child's entry point). It stops when asked (``stop()``), when
this process disappears, or after ``wall_timeout`` seconds.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..builds import pcie_top, wire_top
from .shm import H_ERRORS, Mailbox, SimStopped, State, default_dir

__all__ = ["CoSim", "CoSimError"]


class CoSimError(RuntimeError):
    """The co-simulation failed; the message carries the tail of its log."""


class CoSim:
    """A co-simulation of the PCIe top in its own process (start, watch, stop)."""

    def __init__(self, directory: str | os.PathLike | None = None, *, width: int = 256, depth: int = 256,
                 mps: int = 256, poll_cycles: int = 8, host_bytes: int = 64 << 20, rq_pause: float = 0.0,
                 seed: int = 1, wall_timeout: float = 900.0, traffic: tuple | None = None, keep: bool = False,
                 extra_env: dict | None = None, wire_mac_ps: int | None = None,
                 perst_after: int | None = None, perst_cycles: int = 2000, perst_wall: float = 0.0):
        if perst_after is not None and (perst_after < 0 or perst_cycles < 1 or perst_wall < 0):
            raise ValueError(f"hard reset after {perst_after} entries for {perst_cycles} cycles and "
                             f"{perst_wall} s: need entries >= 0, cycles >= 1, seconds >= 0")
        if mps not in (128, 256, 512, 1024):
            raise ValueError(f"MPS must be 128, 256, 512 or 1024 bytes, not {mps}")
        if width not in (256, 512):
            raise ValueError(f"datapath width must be 256 or 512, not {width}")
        if not 0 <= rq_pause < 1:
            raise ValueError(f"RQ pause probability must be in [0, 1), not {rq_pause}")
        if poll_cycles < 1:
            raise ValueError(f"mailbox poll interval must be >= 1 cycle, not {poll_cycles}")
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="ringgate-cosim-", dir=default_dir()))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.width, self.depth, self.mps = width, depth, mps
        self.poll_cycles, self.host_bytes, self.rq_pause = poll_cycles, host_bytes, rq_pause
        self.seed, self.wall_timeout, self.keep = seed, wall_timeout, keep
        self.traffic = traffic
        self.extra_env = dict(extra_env or {})
        if perst_after is not None:
            self.extra_env.update(COSIM_PERST_AFTER=str(perst_after), COSIM_PERST_CYCLES=str(perst_cycles),
                                  COSIM_PERST_WALL=str(perst_wall))
        # Orders from the wire: the ingress in front of the PCIe top, frames on its MAC stream
        # (the MAC clock's period in ps); None feeds entries into the ring's producer stream.
        self.wire_mac_ps = wire_mac_ps
        self.proc: subprocess.Popen | None = None
        self.build = None
        self.summary: dict | None = None
        self._log = None

    def errors(self) -> int:
        """Checks the simulator has failed so far (scoreboard, protocol); readable while it runs."""
        try:
            mb = Mailbox(self.directory / "mailbox")
        except (SimStopped, FileNotFoundError, ValueError):
            return 0
        try:
            return mb[H_ERRORS]
        finally:
            mb.close()

    @property
    def log_path(self) -> Path:
        return self.directory / "run" / "sim.log"

    @property
    def launcher_log(self) -> Path:
        return self.directory / "launcher.log"

    def start(self, timeout: float = 300.0) -> "CoSim":
        d = self.directory
        for f in ("mailbox", "hostmem", "results.json", "results.npz", "traffic.npz"):
            (d / f).unlink(missing_ok=True)
        if self.traffic is not None:
            entries, cycles = self.traffic
            np.savez(d / "traffic.npz", entries=np.asarray(entries).view(np.uint8).reshape(len(entries), 64),
                     cycles=np.asarray(cycles, np.uint64))
        if self.wire_mac_ps:
            self.build = b = wire_top(self.width, self.depth)
            self.extra_env.update(COSIM_WIRE="1", COSIM_MAC_PS=str(self.wire_mac_ps))
        else:
            self.build = b = pcie_top(self.width, self.depth)
        spec = {"name": b.name, "directory": str(b.directory), "waves": b.waves,
                "test_dir": str(d / "run"),
                "env": {"COSIM_DIR": str(d), "COSIM_MPS": str(self.mps), "COSIM_POLL": str(self.poll_cycles),
                        "COSIM_HOST_BYTES": str(self.host_bytes), "COSIM_RQ_PAUSE": str(self.rq_pause),
                        "COSIM_SEED": str(self.seed), "COSIM_WALL_TIMEOUT": str(self.wall_timeout),
                        "COSIM_OWNER": str(os.getpid()), **self.extra_env}}
        self._log = open(self.launcher_log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "ringgate.sim.cosim.session", json.dumps(spec)],
                                     cwd=d, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        mbox = self.directory / "mailbox"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CoSimError(f"the simulator exited ({self.proc.returncode}) before it was ready\n{self.log_tail()}")
            if mbox.exists() and mbox.stat().st_size >= Mailbox.NBYTES:
                try:
                    mb = Mailbox(mbox)
                except SimStopped:
                    mb = None
                if mb is not None:
                    st = mb.state
                    mb.close()
                    if st == State.READY:
                        return
                    if st == State.FAILED:
                        raise CoSimError(f"the simulator failed while starting\n{self.log_tail()}")
            time.sleep(0.02)
        self.kill()
        raise CoSimError(f"the simulator was not ready after {timeout} s\n{self.log_tail()}")

    def log_tail(self, n: int = 6000) -> str:
        parts = []
        for p in (self.launcher_log, self.log_path):
            if p.exists():
                parts.append(f"--- {p}\n" + p.read_text(errors="replace")[-n:])
        return "\n".join(parts)

    def stop(self, timeout: float = 120.0) -> dict:
        """Ask the simulation to stop, wait for it, return its summary (results.json).
        Raises :class:`CoSimError` if it failed (scoreboard errors, timeout...)."""
        if self.proc is None:
            raise CoSimError("the co-simulation was never started")
        if self.proc.poll() is None:
            try:
                mb = Mailbox(self.directory / "mailbox")
                mb.request_stop()
                mb.close()
            except (SimStopped, FileNotFoundError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise CoSimError(f"the simulator did not stop within {timeout} s\n{self.log_tail()}")
        res = self.directory / "results.json"
        self.summary = json.loads(res.read_text()) if res.exists() else None
        if self.proc.returncode != 0:
            errs = (self.summary or {}).get("errors")
            raise CoSimError(f"the co-simulation failed (exit {self.proc.returncode})"
                             + (f": {'; '.join(errs)}" if errs else "") + f"\n{self.log_tail()}")
        return self.summary

    def results(self) -> dict[str, np.ndarray]:
        with np.load(self.directory / "results.npz") as z:
            return {k: z[k] for k in z.files}

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:                        # the launcher and the simulator it runs (its own session)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_dir and not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(timeout=30)
            except CoSimError:
                pass
        self.close()


def _main(argv: list[str]) -> int:
    from ringgate.sim.verilator import Build, CocotbFailure, run

    spec = json.loads(argv[0])
    b = Build(spec["name"], Path(spec["directory"]), spec["waves"], rebuilt=False)
    try:
        run(b, "ringgate.sim.cosim.tb_cosim", testcase="cosim", test_dir=spec["test_dir"], extra_env=spec["env"])
    except CocotbFailure as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
