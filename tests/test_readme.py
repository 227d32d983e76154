"""The README's two commands are the ones users and CI run."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_install_and_test_commands():
    main_cmd, test_cmd = _readme_commands()[:2]
    assert "pip install -e ." in main_cmd and "ringgate run" in main_cmd
    assert "pip install -e '.[test]'" in test_cmd and "pytest -n auto" in test_cmd


def test_ci_runs_the_readme_test_command():
    test_cmd = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci, "the CI script must run the README's test command verbatim"
    assert "set -euo pipefail" in ci
