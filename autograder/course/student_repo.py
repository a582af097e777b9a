"""The student repository ``make release`` writes: ready to become a GitHub template repository.

It holds the released notebooks (``NN_name/NN_name.ipynb``, the pristine copies in ``.released/``), and from
``student_template/``: the Makefile (``setup``, ``lab``, ``check``, ``data``), the workflow, the ``.cnn-course``
marker the notebooks find ``data/`` by, and the README's start, followed by the student part of
``docs/students.md``. ``requirements.txt`` pins ``requirements/student.txt`` and everything it needs, at the
versions of the CPU lock (found from the installed packages' metadata). The student API (``coursework``) is not copied: it
comes with the grader wheel ``make setup`` installs, so it has one source. No solution, no source notebook, no
rubric: ``tests/test_student_repo.py`` proves it.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from autograder.errors import AutograderError
from autograder.paths import ROOT

TEMPLATE = "student_template"
WORKFLOW = Path(".github") / "workflows" / "autograde.yml"
STUDENT_DOCS_FROM = "**Profiles in Jupyter"  # docs/students.md from here on is for students in any repository
RELEASE_FILES = (Path("Makefile"), WORKFLOW)  # where the grader's release (URL, wheel, digests) is set
PLACEHOLDER_URL = "COURSE_ORG"
PLACEHOLDER_DIGEST = re.compile(r"\b0{64}\b")
HOW_TO_SET = ("paste the lines the publish-grader job's summary prints into student_template/{file} "
              "(docs/ci.md, Publish) and run `make release` again")


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
    (out / "requirements.txt").write_text(student_requirements(root), encoding="utf-8")
    return out


def _setting(line: str) -> str:
    """The variable a Makefile (``NAME ?= value``) or workflow (``NAME: value``) line sets."""
    return re.split(r"\s*(?:\?=|:=|=|:)", line.strip(), maxsplit=1)[0]


def placeholder_warnings(repo: Path) -> list[str]:
    """``FILE:LINE: ...`` for every placeholder release URL or digest left in ``repo``'s Makefile and workflow."""
    warnings = []
    for relative in RELEASE_FILES:
        path = repo / relative
        if not path.is_file():
            continue
        how = HOW_TO_SET.format(file=relative.as_posix())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PLACEHOLDER_URL in line:
                warnings.append(f"{path}:{number}: the grader's release URL ({_setting(line)}) is still the "
                                f"placeholder {PLACEHOLDER_URL}; {how}")
            if PLACEHOLDER_DIGEST.search(line):
                warnings.append(f"{path}:{number}: the SHA-256 digest {_setting(line)} is still the placeholder "
                                f"0000…0; {how}")
    return warnings


def _requirements(text: str) -> list[str]:
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def needed(roots: list[str]) -> set[str]:
    """The canonical names of ``roots`` and of every package they need, as the installed metadata says."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [Requirement(r) for r in roots]
    seen: dict[str, set[str]] = {}
    while todo:
        requirement = todo.pop()
        name, extras = canonicalize_name(requirement.name), set(requirement.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            raise AutograderError(f"{name} is not installed: `make setup` first (its metadata gives what it needs)")
        for needs in map(Requirement, requires):
            if needs.marker is None or any(needs.marker.evaluate({"extra": e}) for e in seen[name] | {""}):
                todo.append(needs)
    return set(seen)


def student_requirements(root: Path = ROOT) -> str:
    """The lock's lines of what requirements/student.txt needs, with a header that says so."""
    from packaging.utils import canonicalize_name

    names = needed(_requirements((root / "requirements" / "student.txt").read_text(encoding="utf-8")))
    lock = _requirements((root / "requirements" / "cpu.lock").read_text(encoding="utf-8"))
    pinned = [line for line in lock if canonicalize_name(line.split("==")[0]) in names]
    return ("# What the coursework needs, at the course's exact versions (requirements/student.txt, pinned from its\n"
            "# cpu.lock): TensorFlow on the CPU, Jupyter, and what the grader needs to grade your notebooks.\n"
            + "\n".join(pinned) + "\n")
