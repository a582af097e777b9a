"""nbgrader's autograde step with the pipeline's points, never "the grade cell raised nothing".

nbgrader's ``Autograde`` converter sanitizes a submission (``ClearOutput``,
``OverwriteCells`` restores locked and grade cells from the gradebook, ...) and
then runs its ``autograde_preprocessors``, ``Execute`` first. :class:`PipelineGrades`
takes ``Execute``'s place: it grades the student's folder as nbgrader read it
with the pipeline (:func:`autograder.pipeline.grade.grade_notebook`: stage, which
restores and flags edited locked cells as on ``batch``, execute in a kernel of its
own, score outside that kernel), copies the executed cells' outputs back into
nbgrader's sanitized notebook, stores the result as ``batch`` does (``results_dir``,
:mod:`autograder.course.nbgrader_reports`), and gives every grade cell the outputs that make nbgrader's
``determine_grade`` read the pipeline's points for its check: the check's
message on stdout, then an ``execute_result`` holding the points (nbgrader's
partial credit). The student's kernel never runs a grade cell, so nothing it
does to ``coursework.grade_cell``, tracebacks or IPython changes a grade.

A grade cell maps to a rubric check by the ``coursework.grade_cell("NN",
"check_id", ...)`` call in its source as the gradebook holds it (the released
cell), not the student's copy.
"""

from __future__ import annotations

import ast
import atexit
import json
import time
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode, default

from autograder.defaults import RECORD_PROFILE
from autograder.errors import AutograderError
from autograder.pipeline.stage import INJECTED_TAG
from autograder.results import CheckResult
from autograder.studentcode.notebook import parsed
from coursework.environment import ENV_DIR

GRADE_CALL = "grade_cell"
PROGRESS_MARK = "autograder-progress "  # one log line per graded notebook, read by nbgrader_course.autograde
PREPROCESSOR = f"{__name__}.PipelineGrades"


class GradeCellError(AutograderError, ValueError):
    """A grade cell of the gradebook names no rubric check this grader knows."""


def named_check(source: str) -> Optional[tuple[str, str]]:
    """``(assignment, check_id)`` from a cell's ``coursework.grade_cell("NN", "check_id", ...)`` call, if any."""
    tree = parsed(source)
    for node in ast.walk(tree) if tree is not None else ():
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        texts = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if name == GRADE_CALL and len(texts) == 2:
            return texts[0], texts[1]
    return None


def grade_outputs(result: CheckResult, max_points: float) -> list[NotebookNode]:
    """A grade cell's outputs for ``result``: the check's message, then its points as nbgrader's partial credit."""
    points = max(0.0, min(result.points, max_points))
    message = f"[{result.status}] {result.message}\n{points:g} / {max_points:g} points\n"
    return [
        nbformat.v4.new_output("stream", name="stdout", text=message),
        nbformat.v4.new_output("execute_result", data={"text/plain": repr(points)}, execution_count=None),
    ]


def is_grade_only(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def copy_outputs(executed: NotebookNode, nb: NotebookNode) -> None:
    """Put the executed notebook's outputs (and timings) into ``nb``'s cells: by nbgrader id, else by same source.

    Grade cells are left alone (the executed notebook has none: staging drops them).
    """
    by_id: dict[str, NotebookNode] = {}
    unmarked: list[NotebookNode] = []
    for cell in executed.cells:
        if cell.get("cell_type") != "code" or INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid is None:
            unmarked.append(cell)
        else:
            by_id.setdefault(gid, cell)
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or is_grade_only(cell):
            continue
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        match = by_id.get(gid) if gid is not None else next((c for c in unmarked if c.source == cell.source), None)
        if match is None:
            continue
        if gid is None:
            unmarked.remove(match)
        cell.outputs = match.get("outputs", [])
        cell.execution_count = match.get("execution_count")
        if "execution" in match.get("metadata", {}):  # nbclient's timestamps, as nbgrader's Execute leaves them
            cell.metadata["execution"] = match.metadata["execution"]


def autograde_preprocessors() -> list[str]:
    """nbgrader's autograde preprocessors with :class:`PipelineGrades` in place of ``Execute``, as dotted names."""
    from nbgrader.converters import Autograde

    names = []
    for pp in Autograde.class_traits()["autograde_preprocessors"].default():
        pp = PREPROCESSOR if pp is Execute else pp
        names.append(pp if isinstance(pp, str) else f"{pp.__module__}.{pp.__name__}")
    return names


@functools.cache
def scoring_pool() -> Any:
    """The nbgrader run's scoring pool: a fresh scoring process per notebook, each warmed while a kernel runs."""
    from autograder.pipeline.score import ScoringPool

    pool = ScoringPool()
    atexit.register(pool.close)
    return pool


class PipelineGrades(NbGraderPreprocessor):
    """Replaces nbgrader's ``Execute``: run the pipeline on the notebook and write its points into the grade cells."""

    profile = Unicode(help=f"the rubric profile to grade with (default: $CNN_PROFILE, else {RECORD_PROFILE})").tag(config=True)
    data_dir = Unicode(None, allow_none=True,
                       help=f"the course's data sets (default: ${ENV_DIR})").tag(config=True)
    seed = Integer(0, help="the seed the notebook runs with").tag(config=True)
    sandbox = Unicode("require", help="require, prefer or off: student code in the bubblewrap sandbox").tag(config=True)
    results_dir = Unicode(None, allow_none=True, help="store each notebook's result, executed notebook and "
                          "feedback page here as batch does (python -m autograder autograde: the course's "
                          "grading/)").tag(config=True)

    @default("profile")
    def _profile(self) -> str:
        return os.environ.get("CNN_PROFILE", RECORD_PROFILE)

    @default("data_dir")
    def _data_dir(self) -> Optional[str]:
        return os.environ.get(ENV_DIR)

    def released_dir(self) -> Path:
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        return Path(coursedir.root) / coursedir.release_directory

    def submitted_dir(self, info: dict[str, Any], fallback: Path) -> Path:
        """The student's own folder as nbgrader read it (its notebook as the student left it, so that the pipeline's
        staging sees and flags an edited locked cell), else ``fallback``."""
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"]))
        return folder if folder.is_dir() and not folder.is_symlink() else fallback

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        from autograder import checks, rubric as rubrics

        started = time.monotonic()
        info = resources["nbgrader"]
        rubric = checks.validated(rubrics.find(info["assignment"]))
        if f"{info['notebook']}.ipynb" != rubric.notebook:
            raise GradeCellError(f"{info['notebook']}.ipynb is not the notebook of rubric {rubric.name}")
        checks = self.grade_cell_checks(info, rubric.id)
        graded, regraded = self.grade(nb, resources, rubric)
        results = {r.id: r for r in graded.results}
        for cell in nb.cells:
            if is_grade_only(cell):
                gid = cell.metadata.nbgrader.get("grade_id")
                check = checks.get(gid)
                if check is None or check not in results:
                    raise GradeCellError(f"grade cell {gid!r} of {info['notebook']} names no check of rubric "
                                         f"{rubric.name} (found {check!r})")
                cell.outputs = grade_outputs(results[check], float(cell.metadata.nbgrader["points"]))
                cell.execution_count = None
        self.log.info("%s of %s graded by the pipeline: %s", info["notebook"], info["student"],
                      ", ".join(f"{r.id} {r.points:g}/{r.max_points:g}" for r in graded.results if r.max_points))
        label = f"{info['student']} {rubric.name}"
        self.log.info("%s%s", PROGRESS_MARK, json.dumps({"label": label, "results": [r.to_dict() for r in
                      graded.results], "seconds": round(time.monotonic() - started, 1), "regraded": regraded}))
        return nb, resources

    def grade(self, nb: NotebookNode, resources: dict[str, Any], rubric: Any) -> tuple[Any, Optional[str]]:
        """Grade the student's submission with the pipeline, copy the executed outputs into ``nb`` and, with a
        ``results_dir``, store the result as ``batch`` does; (the grade, what a regrade moved or None)."""
        from autograder.course.nbgrader_reports import store_notebook
        from autograder.grading import GradingSettings
        from autograder.pipeline.grade import grade_notebook

        info = resources["nbgrader"]
        settings = GradingSettings(profile=self.profile, data_dir=self.data_dir, seed=self.seed,
                                   released_dir=self.released_dir(), sandbox=self.sandbox).resolved()
        with tempfile.TemporaryDirectory(prefix="nbgrader-pipeline-") as tmp:
            submission = Path(tmp) / "submission"
            own = self.submitted_dir(info, Path(resources["metadata"]["path"]).resolve())
            shutil.copytree(own, submission / rubric.name, symlinks=True)
            if not (submission / rubric.name / rubric.notebook).is_file():  # as nbgrader read it, else
                nbformat.write(nb, submission / rubric.name / rubric.notebook)
            out = Path(tmp) / "out"
            out.mkdir()
            graded = grade_notebook(rubric=rubric, submission=submission, out=out, workroot=Path(tmp) / "work",
                                    pool=scoring_pool(), settings=settings)
            executed = out / rubric.notebook
            if executed.is_file():
                copy_outputs(nbformat.read(executed, as_version=4), nb)
            change = (store_notebook(Path(self.results_dir), info["student"], graded, out, settings)
                      if self.results_dir else None)
        return graded, change.describe() if change is not None else None

    def grade_cell_checks(self, info: dict[str, Any], assignment_id: str) -> dict[str, str]:
        """{grade cell id: rubric check id}, read from the released grade cells in the gradebook."""
        from nbgrader.api import Gradebook

        checks: dict[str, str] = {}
        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            for grade_cell in notebook.grade_cells:
                source = gradebook.find_source_cell(grade_cell.name, info["notebook"], info["assignment"]).source
                named = named_check(source)
                if named is not None and named[0] == assignment_id:
                    checks[grade_cell.name] = named[1]
        return checks
