"""The files a course's Classroom 50 config repository needs, written by ``make release`` into build/classroom50/.

``autograders/NN_name/autograder.py`` per assignment: the template module
:mod:`autograder.course.classroom50_autograder` with its ``SETTINGS`` block filled in (the assignment, the points
scale, whether the data sets are fetched, the grader's release as the student repository's Makefile names it, and
the student's pinned packages), plus a README saying where each file goes. docs/ci.md compares this route with the
course's own workflow and the instructor's ``collect`` + ``batch``.
"""

from __future__ import annotations

import pprint
import re
import shutil
from pathlib import Path
from typing import Any

from autograder.course import classroom50_autograder as template
from autograder.course.student_repo import PLACEHOLDER_DIGEST, PLACEHOLDER_URL, TEMPLATE, WORKFLOW, \
    student_requirements
from autograder.errors import ReleaseError
from autograder.paths import ROOT
from autograder.rubric import all_rubrics

# The check functions that can give partial credit (an Outcome with a fraction): an assignment using one has its
# points scaled by PARTIAL_SCALE, so that Classroom 50's whole points keep tenths (tests/test_classroom50.py holds
# this list to the check functions' code).
PARTIAL_CREDIT = frozenset({"answers_params_by_layer", "answers_numbers", "annotations"})
PARTIAL_SCALE = 10
FETCHED = frozenset({"mnist", "cifar10"})  # data sets `python -m autograder data fetch` downloads (VGG16's weights too)
BEGIN, END = "# --- settings: written by", "# --- end of settings ---"
README = """# Classroom 50: the course's autograders

Written by `make release` in the course repository (autograder/course/classroom50.py); do not edit here.

Copy `autograders/` into the root of the classroom's config repository, so that each notebook's script is at
`autograders/NN_name/autograder.py` and the assignment's name in Classroom 50 is the folder's name:

{table}

Each script grades its one notebook with the course's grader, writes `result.json` (`classroom50/result/v1`)
and `release-body.md`, and exits 0 whenever grading ran, whatever the score. The grader's release:
`{release}` (its wheel checked by SHA-256).

- **Points.** Whole points: a check's points times the assignment's scale (above), rounded down; a scaled test
  says so in its name (`params_by_layer (points x10)`).
- **Profile.** The smoke profile, which fits Classroom 50's 15-minute grade job. The full profile needs a GPU
  runner (the assignment's `runtime.runs-on`) and a runner workflow without the 15-minute cap, with
  `CNN_COURSE_PROFILE=full` in its environment: see docs/ci.md, "Classroom 50".
- **Data.** 01 and 02 need dogs-vs-cats small on the runner (`CNN_COURSE_DATA`); the scripts of 03 to 06 fetch
  MNIST, CIFAR-10 and VGG16's weights when `CNN_COURSE_DATA` is not set.
- **Grade of record.** The instructor's `collect` + `batch` on the course's machines; Classroom 50's score is
  feedback, computed in a job that the student's repository can change.
"""


def _makefile_value(text: str, name: str) -> str:
    match = re.search(rf"^{name}\s*\?=\s*(\S+)\s*$", text, re.M)
    if not match:
        raise ReleaseError(f"{TEMPLATE}/Makefile sets no {name}")
    return match.group(1)


def release_settings(root: Path = ROOT) -> dict[str, Any]:
    """The grader's release as the student repository names it (its Makefile and workflow) and the packages."""
    makefile = (root / TEMPLATE / "Makefile").read_text(encoding="utf-8")
    workflow = (root / TEMPLATE / WORKFLOW).read_text(encoding="utf-8")
    lock = re.search(r"^\s*GPU_LOCK_SHA256:\s*(\S+)", workflow, re.M)
    if not lock:
        raise ReleaseError(f"{TEMPLATE}/{WORKFLOW} sets no GPU_LOCK_SHA256")
    requirements = [line for line in student_requirements(root).splitlines() if line and not line.startswith("#")]
    return {"grader_release": _makefile_value(makefile, "GRADER_RELEASE"),
            "grader_wheel": _makefile_value(makefile, "GRADER_WHEEL_NAME"),
            "grader_wheel_sha256": _makefile_value(makefile, "GRADER_WHEEL_SHA256"),
            "gpu_lock_sha256": lock.group(1), "requirements": requirements}


def assignment_settings(rubric: Any) -> dict[str, Any]:
    """What one assignment's script needs from its rubric."""
    functions = {spec.function for spec in rubric.checks}
    datasets = {str(spec.args.get("dataset")) for spec in rubric.checks}
    return {"assignment": rubric.name, "id": rubric.id, "title": rubric.title, "profile": "smoke",
            "points_scale": PARTIAL_SCALE if functions & PARTIAL_CREDIT else 1,
            "fetch_data": bool(datasets & FETCHED)}


def render(settings: dict[str, Any]) -> str:
    """The template module's text with its settings block replaced by ``settings`` (a Python literal)."""
    source = Path(template.__file__).read_text(encoding="utf-8")
    missing = set(template.SETTINGS) - set(settings)
    if missing:
        raise ReleaseError(f"Classroom 50 settings lack {', '.join(sorted(missing))}")
    start, end = source.index(BEGIN), source.index(END)
    head = source[start:].split("\n", 1)[0]
    block = f"{head}\nSETTINGS: dict[str, Any] = {pprint.pformat(settings, width=116, sort_dicts=False)}\n"
    return source[:start] + block + source[end:]


def write(out: Path, root: Path = ROOT) -> Path:
    """Write ``out``/autograders/NN_name/autograder.py for every released assignment, and ``out``/README.md."""
    released = sorted(p.name for p in (root / ".released").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    rubrics = {r.name: r for r in all_rubrics().values()}
    release = release_settings(root)
    if out.exists():
        shutil.rmtree(out)
    rows = ["| assignment | script | points scale |", "|---|---|---:|"]
    for name in released:
        if name not in rubrics:
            raise ReleaseError(f"{name} is released but has no rubric")
        settings = {**assignment_settings(rubrics[name]), **release}
        script = out / "autograders" / name / "autograder.py"
        script.parent.mkdir(parents=True)
        script.write_text(render(settings), encoding="utf-8")
        rows.append(f"| {name} | `autograders/{name}/autograder.py` | {settings['points_scale']} |")
    text = README.format(table="\n".join(rows), release=release["grader_release"])
    (out / "README.md").write_text(text, encoding="utf-8")
    return out


def placeholder_warning(out: Path, root: Path = ROOT) -> list[str]:
    """One line when the scripts name the placeholder release (the student repository's warnings say where)."""
    release = release_settings(root)
    digests = (release["grader_wheel_sha256"], release["gpu_lock_sha256"])
    if PLACEHOLDER_URL in release["grader_release"] or any(PLACEHOLDER_DIGEST.search(d) for d in digests):
        return [f"{out}/autograders: the scripts name the placeholder grader release of {TEMPLATE}/ (set it there "
                "and run `make release` again)"]
    return []
