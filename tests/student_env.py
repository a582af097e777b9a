"""A student's environment built offline, as fast as it can be: the grader wheel from this checkout, and a virtual
environment layered on the test's own (a .pth naming its site-packages) so that `pip install -r` finds every pinned
package installed and `--no-index` never reaches a network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from autograder.paths import ROOT

WHEEL_INPUTS = ("pyproject.toml", "README.md", "autograder", "coursework", ".released")


def build_wheel(out: Path) -> Path:
    """The grader wheel, built from a clean copy of its inputs (as tests/test_grader_wheel.py builds it)."""
    src = out / "src"
    src.mkdir(parents=True)
    for name in WHEEL_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "-w", str(out), str(src)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("*.whl")
    return wheel


def layered_venv(venv: Path) -> Path:
    """A virtual environment that sees this one's packages (and Jupyter's files, as pip would have put them) but
    none of its own code: the student's copy of the grader is what gets installed into it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    shared = Path(sysconfig.get_paths()["purelib"]).resolve()  # resolved: the sandbox binds real paths only
    (purelib / "course-env.pth").write_text(f"{shared}\n")
    shutil.copytree(Path(sys.prefix) / "etc" / "jupyter", venv / "etc" / "jupyter")  # nbgrader's server config
    (venv / "share").symlink_to((Path(sys.prefix) / "share").resolve())  # lab extensions (read, never written)
    return venv / "bin" / "python"


def student_environ(**extra: str) -> dict[str, str]:
    """The environment a student's shell has: none of the test's own paths, offline pip."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CNN_COURSE_DATA")}
    return {**env, "PIP_NO_INDEX": "1", **extra}
