"""pytest entry point: ``pytest --submission DIR --profile smoke`` grades a submission as test items.

Registered on install (``pytest11``). With ``--submission``, collection yields one item per rubric check of each
notebook present in DIR (``NN_name/NN_name.ipynb``) and nothing else: not the project's tests, whatever the
current folder. Each notebook is graded once, by :func:`autograder.pipeline.grade.grade` (the pipeline behind
``python -m autograder grade``), when its first item runs; an item passes exactly when its check's status is
``pass``, and carries the status and points as user properties (JUnit ``<property>``). Items of a notebook share
one collector, so ``-k``, ``--junitxml`` and ``-n N --dist loadscope`` work as for any tests.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import pytest

from autograder.defaults import TRY_PROFILE
from autograder.results import Status
from autograder.rubric import PROFILES
from autograder.sandbox import SANDBOX_MODES
from autograder.inert import terminal_safe
from coursework.environment import ENV_DIR


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograder", "grade a coursework submission (the autograder's plugin)")
    group.addoption("--submission", metavar="DIR",
                    help="grade DIR (laid out like assignments/): one test per rubric check; no other tests run")
    group.addoption("--profile", choices=PROFILES, default=TRY_PROFILE,
                    help=f"grading profile (default: {TRY_PROFILE})")
    group.addoption("--grading-out", metavar="DIR", help="where the reports go (default: a temporary folder)")
    group.addoption("--grading-data-dir", metavar="DIR", default=os.environ.get(ENV_DIR),
                    help=f"the course's data sets (default: ${ENV_DIR})")
    group.addoption("--grading-seed", type=int, default=0)
    group.addoption("--grading-sandbox", choices=SANDBOX_MODES, default="require",
                    help="run student code in the bubblewrap sandbox (default: require)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> Optional[bool]:
    """With ``--submission``: the submission's checks instead of the usual collection."""
    config = session.config
    submission = config.getoption("submission")
    if not submission:
        return None
    from autograder.grading import chosen_rubrics, load_rubrics

    folder = Path(submission).resolve()
    if not folder.is_dir():
        raise pytest.UsageError(f"--submission {submission}: not a directory")
    available = load_rubrics()
    present = [r for r in chosen_rubrics(available, folder, None) if (folder / r.name).is_dir()]
    from autograder.errors import AutograderError
    from autograder.preflight import preflight

    try:  # no data set, no sandbox: one clear message, no test items
        preflight(present, _settings(config), flag="--grading-data-dir")
    except AutograderError as exc:
        raise pytest.UsageError(str(exc)) from None
    items: list[pytest.Item] = []
    for rubric in present:
        collector = NotebookCollector.from_parent(session, name=rubric.name, rubric=rubric, submission=folder)
        mine = collector.collect()
        session.ihook.pytest_collectreport(report=pytest.CollectReport(collector.nodeid, "passed", None, mine))
        items += mine
    session.items = items
    config.hook.pytest_collection_modifyitems(session=session, config=config, items=items)  # -k, -m deselect
    session.testscollected = len(items)
    config.hook.pytest_collection_finish(session=session)
    return True


class NotebookCollector(pytest.Collector):
    """One notebook of the submission: its rubric's checks, graded together on first use."""

    def __init__(self, *, rubric: Any, submission: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rubric = rubric
        self.submission = submission
        self._results: Optional[dict[str, Any]] = None
        self.rows: list[Any] = []

    def collect(self) -> list[pytest.Item]:
        return [CheckItem.from_parent(self, name=check.id, check=check) for check in self.rubric.checks]

    def results(self) -> dict[str, Any]:
        """This notebook's report rows by check id, grading it the first time."""
        if self._results is None:
            from autograder.pipeline.grade import grade

            config = self.config
            settings = _settings(config)
            out = _out_dir(config) / self.rubric.name
            graded = grade(self.submission, out, [self.rubric.id], settings)
            self.rows = [r for nb in graded for r in nb.results]
            self._results = {r.id: r for r in self.rows}
            config.stash.setdefault(_ROWS, []).extend(self.rows)
        return self._results


def _settings(config: pytest.Config) -> Any:
    from autograder.grading import GradingSettings

    return GradingSettings(config.getoption("profile"), config.getoption("grading_data_dir"),
                           config.getoption("grading_seed"), sandbox=config.getoption("grading_sandbox"))


class CheckFailed(Exception):
    """A check that did not pass: its status, message and points."""


class CheckItem(pytest.Item):
    def __init__(self, *, check: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        result = self.parent.results()[self.check.id]
        self.user_properties += [("status", str(result.status)), ("points", result.points),
                                 ("max_points", result.max_points)]
        if result.status != Status.PASS:
            raise CheckFailed(terminal_safe(f"{result.status}: {result.message} "
                                            f"({result.points:g}/{result.max_points:g} points)"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        notebook = self.parent.submission / self.parent.rubric.name / self.parent.rubric.notebook
        return notebook, None, f"{self.parent.rubric.id} {self.check.id}: {self.check.description}"


_ROWS = pytest.StashKey[list]()


def _out_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("grading_out")
    if chosen:
        return Path(chosen)
    if not hasattr(config, "_autograder_tmp"):
        config._autograder_tmp = tempfile.TemporaryDirectory(prefix="autograder-pytest-")  # type: ignore[attr-defined]
        config.add_cleanup(config._autograder_tmp.cleanup)  # type: ignore[attr-defined]
    return Path(config._autograder_tmp.name)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    rows = config.stash.get(_ROWS, [])
    if rows:
        from autograder.pipeline import report

        terminalreporter.section("autograder")
        terminalreporter.write_line(report.table(rows))
