"""The grader released apart from the solutions: a wheel of `autograder` + `coursework`, rubrics and the released
notebooks as package data. Built offline from the packaging inputs alone, as `make grader-wheel` builds it."""

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder.paths import ROOT
from tests.student_env import build_wheel


def digests(folder: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))  # from a clean copy: no stale build/ folder leaks in


def test_the_wheel_holds_no_solution_and_no_source(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        contents = {n: z.read(n) for n in names}
    assert not [n for n in names if n.startswith(("source/", "reference_solutions/", "tests/"))]
    assert not [n for n, data in contents.items() if b"### BEGIN SOLUTION" in data]
    assert not [n for n, data in contents.items() if n.endswith(".ipynb") and b"BEGIN HIDDEN TESTS" in data]
    instructor = digests(ROOT / "source") | digests(ROOT / "reference_solutions")
    assert not [n for n, data in contents.items() if hashlib.sha256(data).hexdigest() in instructor]
    released = sorted(n for n in names if n.startswith("autograder/released/"))
    assert released == sorted(f"autograder/released/{p.relative_to(ROOT / 'assignments')}"
                              for p in (ROOT / "assignments").rglob("*.ipynb"))
    assert {"autograder/rubric/00_warmup.toml", "autograder/rubric/limits.toml", "coursework/submit.py"} <= set(names)


def test_the_installed_wheel_answers_and_hides_itself_from_the_sandbox(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, env=env, timeout=300)
    run = lambda *args: subprocess.run([str(python), *args], cwd=tmp_path, env=env, capture_output=True,  # noqa: E731
                                       text=True, timeout=300)
    answer = run("-m", "autograder", "--help")
    assert answer.returncode == 0 and "collect" in answer.stdout and "actions" in answer.stdout, answer.stderr
    probe = run("-c", "import importlib.metadata as m, autograder.paths as p; "
                "print([e.value for e in m.entry_points(group='pytest11')]); "
                "print(p.RELEASED_DIR.is_relative_to(p.PACKAGE), (p.RELEASED_DIR / '00_warmup').is_dir())")
    assert probe.stdout.split("\n")[:2] == ["['autograder.pytest_plugin']", "True True"], probe.stderr
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    inside = textwrap.dedent("""
        import subprocess, sys
        from pathlib import Path
        from autograder.rubric import all_rubrics
        from autograder.sandbox import Sandbox
        box = Sandbox(all_rubrics()["00"].profiles["smoke"].limits)
        probe = "import coursework, importlib.util as u; print(u.find_spec('autograder.rubric') is None)"
        done = subprocess.run(box.command([sys.executable, "-c", probe], Path("/tmp")), capture_output=True, text=True)
        print(done.stdout.strip(), done.stderr[-500:])
    """)
    sandboxed = run("-c", inside)
    assert sandboxed.stdout.startswith("True"), sandboxed.stdout + sandboxed.stderr  # student API yes, grader no
