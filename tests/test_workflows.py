"""The workflow files as data: the student workflow's limits against the rubrics, pins and privileges.
(`make lint-workflows` checks them with actionlint; `make test` runs it.)"""

import re

import pytest
import yaml

from autograder import rubric as rubrics
from tests.conftest import ROOT

STUDENT = ROOT / "student_template" / ".github" / "workflows" / "autograde.yml"
WORKFLOWS = [STUDENT, *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
JOB_LIMIT_MINUTES = 360  # what GitHub lets a job run


def steps(workflow: dict):
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_each_notebook_finishes_inside_its_step_and_its_job():
    grade = yaml.safe_load(STUDENT.read_text())["jobs"]["grade"]
    matrix = {row["assignment"]: row for row in grade["strategy"]["matrix"]["include"]}
    available = rubrics.all_rubrics().values()
    assert set(matrix) == {r.name for r in available}
    for r in available:
        row = matrix[r.name]
        assert row["notebook_seconds"] == min(r.profiles["full"].limits.notebook_timeout, 5 * 3600)
        assert row["notebook_seconds"] < row["step_minutes"] * 60 < row["job_minutes"] * 60
        assert row["job_minutes"] <= JOB_LIMIT_MINUTES - 20


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_pinned_and_least_privileged(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    assert "concurrency" in workflow
    for step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]  # a commit, not a tag
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_the_student_workflow_reports_to_classroom():
    workflow = yaml.safe_load(STUDENT.read_text())
    report = workflow["jobs"]["report"]
    assert report["needs"] == "grade" and report["if"] == "always()"
    reporter = steps({"jobs": {"report": report}})[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    assert reporter["with"]["runners"] == "autograde" and "AUTOGRADE_RESULTS" in reporter["env"]
    preflight = next(s for s in steps(workflow) if s.get("name", "").startswith("Preflight"))
    assert "list_physical_devices" in preflight["run"] and "torch.cuda.is_available()" in preflight["run"]
