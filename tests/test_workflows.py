"""The workflow files as data: the student workflow's limits against the rubrics, pins and privileges.
(`make lint-workflows` checks them with actionlint; `make test` runs it.)"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from autograder import rubric as rubrics
from autograder.paths import ROOT

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


def named(workflow: dict, job: str, prefix: str) -> dict:
    return next(s for s in workflow["jobs"][job]["steps"] if s.get("name", "").startswith(prefix))


def test_the_student_workflow_reports_on_actions_alone():
    workflow = yaml.safe_load(STUDENT.read_text())
    assert "classroom" not in STUDENT.read_text().lower()
    report = workflow["jobs"]["report"]
    assert report["needs"] == "grade" and report["if"] == "always()"
    assert report["permissions"] == {"contents": "read", "statuses": "write"}  # the commit status, nothing more
    assert "autograder actions grading" in named(workflow, "report", "Summary")["run"]
    status = named(workflow, "report", "Post the score")
    assert "statuses/$GITHUB_SHA" in status["run"] and status["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert named(workflow, "report", "Keep the whole")["uses"].startswith("actions/upload-artifact@")
    preflight = next(s for s in steps(workflow) if s.get("name", "").startswith("Preflight"))
    assert "list_physical_devices" in preflight["run"] and "torch.cuda.is_available()" in preflight["run"]


def test_an_unchanged_notebook_reuses_its_stored_result():
    """Every step after the stored result's lookup, but keeping the results, is skipped on a hit."""
    workflow = yaml.safe_load(STUDENT.read_text())
    grade = workflow["jobs"]["grade"]["steps"]
    names = [s.get("name", "") for s in grade]
    stored = names.index("Reuse the stored result of an unchanged notebook")
    assert grade[stored]["with"]["key"] == "graded-${{ matrix.assignment }}-${{ steps.key.outputs.key }}"
    assert grade[stored]["with"]["path"] == "grading/${{ matrix.assignment }}"
    assert "autograder job-key" in grade[names.index("Key of this notebook's result (as batch keys it)")]["run"]
    for step in grade[stored + 1:-1]:
        assert "steps.stored.outputs.cache-hit != 'true'" in step["if"], step["name"]
    assert grade[-1]["if"] == "always()" and grade[-1]["uses"].startswith("actions/upload-artifact@")


def play(step: dict, cwd: Path, env: dict[str, str], output: Path) -> dict[str, str]:
    """Run a workflow step's script as the runner would (bash -e), with its outputs file; its outputs."""
    output.write_text("")
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env={**env, "GITHUB_OUTPUT": str(output)},
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{step['name']}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    env["LAST_STDOUT"] = done.stdout
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)


@pytest.mark.notebooks
def test_the_workflows_grading_steps_grade_a_pushed_submission(tmp_path, data_dir):
    """The grade job's steps for 00 and the report job's, in order, in fresh folders, with the wheel; steps that
    need GitHub (checkout, download, cache, artifacts, the commit status) or a GPU (preflight) are done by hand."""
    from autograder.course import student_repo
    from tests.student_env import build_wheel, layered_venv, student_environ

    workflow = yaml.safe_load(STUDENT.read_text())
    wheel = build_wheel(tmp_path / "dist")
    pushed = student_repo.write(tmp_path / "pushed")  # what the student pushed: 00 solved, the rest untouched
    shutil.copy(ROOT / "reference_solutions" / "00_warmup" / "00_warmup.ipynb", pushed / "00_warmup")
    runner = tmp_path / "runner"  # the grade job's workspace
    shutil.copytree(pushed, runner / "submission")  # actions/checkout
    (runner / "grader").mkdir()
    shutil.copy(wheel, runner / "grader" / wheel.name)  # fetched and checked by digest
    python = layered_venv(runner / ".venv")  # the cached GPU environment, with the grader installed
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True,
                   env=student_environ(), timeout=300)
    env = {**student_environ(), **{k: str(v) for k, v in workflow["env"].items()}, "GRADER_WHEEL": wheel.name,
           "CNN_COURSE_DATA": str(data_dir), "ASSIGNMENT": "00_warmup", "NOTEBOOK_SECONDS": "1200",
           "PROFILE": "full"}  # the job's env: no AUTOGRADE_CPU variable, so the GPU runners' full profile
    key = play(named(workflow, "grade", "Key of"), runner, env, tmp_path / "out")["key"]
    assert len(key) == 64
    play(named(workflow, "grade", "Grade"), runner, env, tmp_path / "out")  # a cache miss: graded
    artifacts = tmp_path / "artifacts"
    shutil.copytree(runner / "grading", artifacts, dirs_exist_ok=True)  # upload, then download (merge-multiple)

    again = tmp_path / "again"  # the next push, 00 unchanged: the same key, the stored result reused
    shutil.copytree(pushed, again / "submission")
    (again / "grader").mkdir()
    shutil.copy(wheel, again / "grader" / wheel.name)
    assert play(named(workflow, "grade", "Key of"), again, env, tmp_path / "out")["key"] == key
    notebook = again / "submission" / "00_warmup" / "00_warmup.ipynb"
    notebook.write_text(notebook.read_text().replace("# YOUR CODE HERE", "# my code"))
    shutil.rmtree(again / "grader" / "venv")
    assert play(named(workflow, "grade", "Key of"), again, env, tmp_path / "out")["key"] != key  # changed: graded

    report = tmp_path / "report"  # the report job's workspace
    shutil.copytree(pushed, report / "submission")
    shutil.copytree(artifacts, report / "grading")
    shutil.copytree(runner / ".venv", report / ".venv", symlinks=True)
    summary = tmp_path / "step_summary"
    report_env = {**env, "GITHUB_STEP_SUMMARY": str(summary)}
    status = play(named(workflow, "report", "Summary"), report, report_env, tmp_path / "out")
    most = sum(r.max_points for r in rubrics.all_rubrics().values())  # review points (a person grades) included
    assert status["description"] == f"Points 4/{most:g} (a notebook has no results)"  # 01-06 were not played
    assert status["state"] == "error" and status["points"] == "4"
    text = summary.read_text()
    assert "00 Warm-up" in text and "4 / 4" in text and f"4 / {most:g}" in text
    notes = [n for n in report_env["LAST_STDOUT"].splitlines() if n.startswith("::")]
    assert notes and not [n for n in notes if "title=00 " in n]  # 00 lost nothing
    assert all("did not finish" in n for n in notes)
    assert {n.split("file=")[1].split("/")[0] for n in notes if "file=" in n} == {
        r.name for r in rubrics.all_rubrics().values() if r.id != "00"}
