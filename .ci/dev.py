#!/usr/bin/env python3
"""Newcomer entry point, standard library only: set up and run the demo or the tests.

    python3 .ci/dev.py demo   # virtualenv + install + demo data + web chat on :8080
    python3 .ci/dev.py test   # virtualenv + install + lint + type check + the test suite

Everything goes into .venv next to the repository; re-running is quick (pip skips what is
already installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Bình Yên needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    source = (ROOT / "pyproject.toml").stat().st_mtime
    if not stamp.exists() or stamp.stat().st_mtime < source:
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
        stamp.touch()


def demo() -> None:
    setup()
    os.execv(str(BIN / "binhyen"), [str(BIN / "binhyen"), "demo", *sys.argv[2:]])


def test() -> None:
    setup()
    run(PY, "-m", "ruff", "check", ".")
    run(PY, "-m", "mypy")
    # One worker per core (at most 4): every test has its own databases and ports.
    args = sys.argv[2:] or ["-q", "-rs", "-n", "auto", "--maxprocesses", "4"]
    result = subprocess.run([str(PY), "-m", "pytest", *args], cwd=ROOT)
    sys.exit(result.returncode)


if __name__ == "__main__":
    commands = {"demo": demo, "test": test, "setup": setup}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: python3 .ci/dev.py demo|test|setup [args…]")
    commands[sys.argv[1]]()
