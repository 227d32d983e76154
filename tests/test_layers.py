"""The package's layers point down only, and ``ringgate`` is the only import root.

Bottom to top (README, "Layout"): contracts -> golden model -> gateware -> host software (driver
and exchange side by side, then the gateway) -> simulation -> application. Every import in every
module counts, including those inside functions; relative imports are resolved.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# folder -> package it is mapped to (pyproject.toml, [tool.setuptools] package-dir)
ROOTS = {"ringgate": "ringgate", "hw": "ringgate.hw", "sw": "ringgate.sw", "sim": "ringgate.sim"}

# (layer, prefix): a module belongs to the longest prefix that matches it
LAYERS = [
    (0, "ringgate.contracts"),
    (1, "ringgate.model"),
    (2, "ringgate.hw"),
    (3, "ringgate.sw.driver"),
    (3, "ringgate.sw.exchange"),
    (4, "ringgate.sw.gateway"),
    (4, "ringgate.sw"),
    (5, "ringgate.sim"),
    (6, "ringgate.app"),
    (6, "ringgate"),
]
FOREIGN_ROOTS = ("hw", "sw", "sim", "tests")


def layer_of(module: str) -> tuple[int, str]:
    for layer, prefix in sorted(LAYERS, key=lambda lp: -len(lp[1])):
        if module == prefix or module.startswith(prefix + "."):
            return layer, prefix
    raise LookupError(module)


def package_modules() -> dict[str, str]:
    """Module name -> source text, for every module of the package."""
    out = {}
    for folder, package in ROOTS.items():
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO / folder)
            if "vendor" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            out[name] = path.read_text()
    return out


def imports_of(name: str, source: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, imported module) of every import statement in ``source``, anywhere in it."""
    here = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((node.lineno, target))
            # ``from pkg import module`` imports the submodule too
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names if a.name != "*"]
    return found


def violations(modules: dict[str, str], packages: set[str] | None = None) -> list[str]:
    packages = packages if packages is not None else set()
    bad = []
    for name, source in sorted(modules.items()):
        src_layer, src_prefix = layer_of(name)
        for line, target in imports_of(name, source, name in packages):
            top = target.split(".")[0]
            if top in FOREIGN_ROOTS:
                bad.append(f"{name}:{line} imports {target!r}: ringgate is the only import root")
                continue
            if top != "ringgate":
                continue
            dst_layer, dst_prefix = layer_of(target)
            if dst_layer > src_layer or (dst_layer == src_layer and dst_prefix != src_prefix
                                         and not src_prefix.startswith(dst_prefix + ".")):
                bad.append(f"{name}:{line} ({src_prefix}, layer {src_layer}) imports {target} "
                           f"({dst_prefix}, layer {dst_layer})")
    return bad


def _packages() -> set[str]:
    names = set()
    for folder, package in ROOTS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            names.add(".".join([package, *rel.parts]))
    return names


def test_no_import_points_up():
    bad = violations(package_modules(), _packages())
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


@pytest.mark.parametrize("planted", [
    "from ringgate.sim.cosim import shm",                       # driver -> simulation
    "def later():\n    from ringgate.app import cli\n",          # function-local, driver -> application
    "from ..gateway import app",                                # relative, driver -> gateway
    "from ringgate.sw.exchange import engine",                  # sibling of the same layer
    "import sim.verilator",                                     # a second import root
])
def test_a_planted_upward_import_is_caught(planted):
    modules = {"ringgate.sw.driver.planted": planted}
    assert violations(modules), f"not caught: {planted!r}"


def test_tests_import_only_the_package():
    bad = []
    for path in (REPO / "tests").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        for line, target in imports_of(name, path.read_text(), is_package):
            if target.split(".")[0] in ("hw", "sw", "sim"):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {target!r}")
    assert not bad, "\n".join(bad)
