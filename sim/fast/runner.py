"""Drive a model built with a generated C++ main (``cxxmain``) from Python: set, run, read back.

One process per model; commands go down its stdin, answers come up its stdout (see
:mod:`.cxxmain` for the protocol). Python acts only between runs, never per cycle.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

__all__ = ["FastSim", "FastSimError", "RunResult"]


class FastSimError(RuntimeError):
    pass


class RunResult(NamedTuple):
    """One ``run``: rising edges done, simulated time at the end, wall and CPU time it took."""
    edges: int
    sim_ps: int
    wall_ns: int
    cpu_ns: int


class FastSim:
    """A running Verilated model with a generated main.

    Parameters
    ----------
    binary : path of the executable (``verilator.build_exe(...).binary``)
    clock : the default clock domain of :meth:`run`
    """

    def __init__(self, binary: Path | str, clock: str = "clk"):
        self.clock = clock
        # stderr to a file: a pipe nobody reads could fill and stall the model.
        self._err = tempfile.TemporaryFile(mode="w+")
        self._p = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=self._err, text=True, bufsize=1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._p.poll() is None:
            try:
                self._p.stdin.write("quit\n")
                self._p.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self._p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._p.kill()
                self._p.wait()
        for f in (self._p.stdin, self._p.stdout, self._err):
            try:
                f.close()
            except BrokenPipeError:     # unsent commands of a model that died
                pass

    def _send(self, *lines: str) -> None:
        try:
            self._p.stdin.write("".join(line + "\n" for line in lines))
            self._p.stdin.flush()
        except BrokenPipeError:
            raise self._died() from None

    def _died(self) -> FastSimError:
        self._p.wait()
        self._err.seek(0)
        return FastSimError(f"model exited with {self._p.returncode}: {self._err.read()[-4000:]}")

    def _answer(self) -> str:
        line = self._p.stdout.readline()
        if not line:
            raise self._died()
        line = line.rstrip("\n")
        if line.startswith("err "):
            raise FastSimError(line[4:])
        return line

    def set(self, **ports: int) -> None:
        """Drive inputs; they take effect at the next evaluation."""
        self._send(*(f"set {name} {int(value)}" for name, value in ports.items()))
        errors = []
        for _ in ports:
            try:
                self._answer()
            except FastSimError as e:       # read every answer: the protocol stays in step
                errors.append(str(e))
        if errors:
            raise FastSimError("; ".join(errors))

    def set_clock(self, name: str, period_ps: int, phase_ps: int = 0) -> None:
        """Set a clock's period and phase; only before the first :meth:`run`."""
        self._send(f"clock {name} {int(period_ps)} {int(phase_ps)}")
        self._answer()

    def get(self, *names: str) -> dict[str, int]:
        self._send("get " + " ".join(names))
        values = self._answer().split()[1:]
        return dict(zip(names, map(int, values)))

    def table(self, addr: str, data: str, n: int) -> list[int]:
        """Read ``data`` for every ``addr`` in 0..n-1 (a combinational read port)."""
        self._send(f"table {addr} {data} {n}")
        return [int(v) for v in self._answer().split()[1:]]

    def run(self, edges: int, *, clock: str | None = None, until: str | None = None,
            progress: Callable[[int], None] | None = None, every: int = 1 << 20) -> RunResult:
        """Advance ``edges`` rising edges of ``clock``; stop early at an edge after which ``until``
        reads non-zero. ``progress(done)`` is called every ``every`` edges."""
        if edges < 0:
            raise ValueError("edges must be >= 0")
        self._send(f"run {edges} {clock or self.clock} {until or '-'} {every if progress else 0}")
        while True:
            line = self._answer()
            if line.startswith("progress "):
                progress(int(line.split()[1]))
                continue
            return RunResult(*map(int, line.split()[1:]))
