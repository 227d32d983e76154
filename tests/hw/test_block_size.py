"""Gateware stays readable: no function of hw/ (``elaborate`` or the helpers it calls) over 150
lines, and every component documents its ports (a summary line and a Members section)."""
import ast
from pathlib import Path

HW = Path(__file__).resolve().parents[2] / "hw"
LIMIT = 150


def _functions():
    for path in sorted(HW.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(HW.parent), node


def test_no_gateware_function_over_150_lines():
    long = [f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, node in _functions() if node.end_lineno - node.lineno + 1 > LIMIT]
    assert not long, long
    assert any(node.name == "elaborate" for _, node in _functions())


def test_pcie_components_document_their_ports():
    missing = []
    for path in sorted([*(HW / "dma").glob("*.py"), *(HW / "pcie").glob("*.py"), HW / "pcie_dma.py"]):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(getattr(b, "attr", None) == "Component" for b in node.bases):
                doc = ast.get_docstring(node) or ""
                if not doc.strip() or "Members\n-------" not in doc:
                    missing.append(f"{path.name}:{node.name}")
    assert not missing, f"components without a summary and a Members section: {missing}"
