"""The simulation core type-checks ([tool.mypy] in pyproject.toml): its parameters are typed records, so a checker
follows `params.sides.defender.strength` from the file's schema to where it acts, and catches a misspelt one."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.subprocess
def test_the_core_type_checks():
    r = mypy()
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.subprocess
def test_a_misspelt_parameter_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from redoubt.core.params import Side\n\n\ndef f(p: Side) -> float:\n    return p.moral\n")
    r = mypy("--config-file", str(ROOT / "pyproject.toml"), str(bad))
    assert r.returncode == 1 and '"Side" has no attribute "moral"' in r.stdout
