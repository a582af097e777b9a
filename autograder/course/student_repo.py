"""The student repository ``make release`` writes: ready to become a GitHub template repository.

It holds the released notebooks (``NN_name/NN_name.ipynb``, the pristine copies in ``.released/``), and from
``student_template/``: the Makefile (``setup``, ``lab``, ``check``, ``data``), the workflow, the ``.cnn-course``
marker the notebooks find ``data/`` by, and the README's start, followed by the student part of
``docs/students.md``. ``requirements.txt`` is the CPU lock. The student API (``coursework``) is not copied: it
comes with the grader wheel ``make setup`` installs, so it has one source. No solution, no source notebook, no
rubric: ``tests/test_student_repo.py`` proves it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder.paths import ROOT

TEMPLATE = "student_template"
WORKFLOW = Path(".github") / "workflows" / "autograde.yml"
STUDENT_DOCS_FROM = "**Profiles in Jupyter"  # docs/students.md from here on is for students in any repository


def write(out: Path, root: Path = ROOT) -> Path:
    """Write the student repository into ``out`` (replaced if it exists) from ``root``'s release."""
    released = root / ".released"
    names = sorted(p.name for p in released.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(root / TEMPLATE, out)
    for name in names:
        (out / name).mkdir()
        for notebook in sorted((released / name).glob("*.ipynb")):
            shutil.copy(notebook, out / name / notebook.name)
    docs = (root / "docs" / "students.md").read_text(encoding="utf-8")
    with open(out / "README.md", "a", encoding="utf-8") as readme:
        readme.write(docs[docs.index(STUDENT_DOCS_FROM):])
    lock = (root / "requirements" / "cpu.lock").read_text(encoding="utf-8")
    (out / "requirements.txt").write_text("# The course's CPU environment, exact versions (the course's cpu.lock).\n"
                                          + lock, encoding="utf-8")
    return out
