"""`make workflow-run`: the workflow `make release` writes, run by act (tests/act_run.py) on the CPU for two pushes
of a student repository, then once cut short (red) and once with a broken expression (the check must fail); and
the grade job's runner, from a repository variable, as act evaluates it."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from autograder import rubric as rubrics
from tests.act_run import REPOSITORY, GitHubStandIn, Run, World, act_binary, git, set_release
from autograder.paths import ROOT

pytestmark = pytest.mark.skipif(act_binary() is None, reason="act is not installed: `make workflow-run` installs it")

WORKFLOW = Path(".github") / "workflows" / "autograde.yml"
ASSIGNMENTS = sorted(r.name for r in rubrics.all_rubrics().values())
CHANGED = "03_lenet5"  # the notebook the second push changes
RUNNER_ARCH = {"x86_64": "X64", "aarch64": "ARM64", "arm64": "ARM64"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seed_cache(world: World, wheel: Path) -> None:
    """What earlier runs left in the Actions cache: the environment (the grader wheel in a virtual environment
    layered on this one's packages: nothing to download) and the Keras data cache (empty: the data sets are in
    CNN_COURSE_DATA)."""
    from tests.student_env import layered_venv, student_environ

    lock = sha256(ROOT / "requirements" / "gpu.lock")
    key = f"gpu-venv-Linux-{RUNNER_ARCH[platform.machine()]}-{lock}-{sha256(wheel)}"
    python = layered_venv(world.root / "cache" / key / "0")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True,
                   env=student_environ(), timeout=300)
    (world.root / "cache" / "keras-data-v1" / "0").mkdir(parents=True)


def make_world(root: Path, data_dir: Path) -> World:
    """The grader's release on 127.0.0.1, the student's repository as `make release` writes it with that release
    pasted in, its clone and its git server, and the cache earlier runs filled."""
    from autograder.course import student_repo
    from tests.student_env import build_wheel

    release = root / "release"
    wheel = build_wheel(release)
    shutil.copy(ROOT / "requirements" / "gpu.lock", release / "gpu.lock")
    world = World(root, GitHubStandIn(release), data_dir)
    student_repo.write(world.clone)
    set_release(world.clone / WORKFLOW, {
        "GRADER_RELEASE": f"{world.api.url}/release", "GRADER_WHEEL": wheel.name,
        "GRADER_WHEEL_SHA256": sha256(wheel), "GPU_LOCK_SHA256": sha256(release / "gpu.lock")})
    bare = world.server / REPOSITORY
    bare.mkdir(parents=True)
    git(bare, "init", "--quiet", "--bare", "--initial-branch=main")
    git(world.clone, "init", "--quiet", "--initial-branch=main")
    git(world.clone, "remote", "add", "origin", f"file://{bare}")
    (world.root / "home").mkdir()
    seed_cache(world, wheel)
    return world


@pytest.fixture(scope="module")
def pushes(tmp_path_factory, data_dir):
    """Push 1: the completed warm-up and the released notebooks. Push 2: one notebook changed."""
    world = make_world(tmp_path_factory.mktemp("workflow-run"), data_dir)
    shutil.copy(ROOT / "reference_solutions" / "00_warmup" / "00_warmup.ipynb", world.clone / "00_warmup")
    first_sha = world.push("the warm-up, done")
    first = world.act(world.clone / WORKFLOW)
    notebook = world.clone / CHANGED / f"{CHANGED}.ipynb"
    notebook.write_text(notebook.read_text().replace("# YOUR CODE HERE", "# my code", 1))
    second_sha = world.push("LeNet-5: a start")
    second = world.act(world.clone / WORKFLOW)
    return world, (first_sha, first), (second_sha, second)


def failed(run: Run) -> str:
    """The end of act's log, to read when an assertion fails."""
    return "\n".join(f"{e.get('jobID')} {e.get('step', '')}: {e['msg']}" for e in run.log[-60:])


def assert_graded(run: Run, graded: list[str]) -> None:
    """Exactly the notebooks in ``graded`` were graded; every other one's stored result was reused."""
    for assignment in ASSIGNMENTS:
        steps = run.steps_run("grade", assignment)
        if assignment in graded:
            assert steps.get(f"Grade {assignment}") == "success", (assignment, steps, failed(run))
        else:
            assert f"Grade {assignment}" not in steps, f"{assignment} was regraded, its stored result not reused"
            assert "Install the GPU environment (exact lock, once per lock and grader)" not in steps
        assert "Preflight - the GPU is visible to TensorFlow and to torch" not in steps  # the CPU switch


def most_points(run: Run) -> float:
    """The course's total, from each notebook's uploaded results (the wheel's rubrics, as the report reads them)."""
    return sum(json.loads((run.artifacts / "results" / a / "results.json").read_text())["totals"]["max_points"]
               for a in ASSIGNMENTS)


def assert_reported(run: Run, sha: str) -> None:
    """Green (every notebook has results), 4 points of the warm-up's 4, its summary, annotations and status."""
    assert run.returncode == 0 and run.job_result("report") == "success", failed(run)
    most = most_points(run)
    summary = run.summary("report")
    assert "00 Warm-up" in summary and "4 / 4" in summary and f"4 / {most:g}" in summary, summary
    errors = run.annotations("report")  # GitHub shows 10 error annotations a step: the rest are warnings
    notes = errors + [note for note in run.annotations("report", "warning") if "file" in note]
    assert 0 < len(errors) <= 10 and all(note.get("file", "").endswith(".ipynb") and note["line"] for note in notes)
    assert {note["file"].split("/")[0] for note in notes} == set(ASSIGNMENTS) - {"00_warmup"}, notes  # 00 lost nothing
    for assignment in ASSIGNMENTS:
        results = json.loads((run.artifacts / "results" / assignment / "results.json").read_text())
        assert results["totals"]["points"] == (4 if assignment == "00_warmup" else 0), results["totals"]
        assert (run.artifacts / f"results-{assignment}" / assignment / "results.json").is_file()
    (status,) = run.statuses
    assert status["sha"] == sha and status["context"] == "autograde" and status["state"] == "success"
    assert status["description"] == f"Points 4/{most:g}"
    assert status["target_url"].endswith(f"/{REPOSITORY}/actions/runs/{run.artifacts.name}")


@pytest.mark.notebooks  # grades notebooks in the workflow's jobs
def test_first_push_grades_every_notebook_on_the_cpu(pushes):
    world, (sha, run), _ = pushes
    assert_graded(run, ASSIGNMENTS)
    assert_reported(run, sha)
    stored = {p.name for p in (world.root / "cache").iterdir()}
    for assignment in ASSIGNMENTS:  # each result is stored under the key `job-key` gave (64 hex digits)
        (key,) = [e["msg"].split(" key=", 1)[1] for e in run.lines("grade", assignment)
                  if "::set-output:: key=" in e["msg"]]
        assert len(key) == 64 and f"graded-{assignment}-{key}" in stored, (key, stored)


@pytest.mark.notebooks  # grades notebooks in the workflow's jobs
def test_second_push_regrades_only_the_changed_notebook(pushes):
    _, (first_sha, _), (sha, run) = pushes
    assert sha != first_sha
    assert_graded(run, [CHANGED])
    assert_reported(run, sha)


def assert_red(run: Run, sha: str, most: float) -> None:
    """A run of 00's job alone: the report finds six notebooks without results; the run and the status are red."""
    assert_graded(run, [])
    assert run.returncode != 0 and run.job_result("report") == "failure", failed(run)
    assert len(run.statuses) == 1, f"{len(run.statuses)} commit statuses posted, not 1"
    (status,) = run.statuses
    assert status["sha"] == sha and status["state"] == "error"
    assert status["description"] == f"Points 4/{most:g} (a notebook has no results)"
    assert run.steps_run("report").get("Red when grading did not finish") == "failure"


@pytest.mark.notebooks  # grades notebooks in the workflow's jobs
def test_a_notebook_without_results_turns_the_run_red(pushes):
    world, _, (sha, second) = pushes
    assert_red(world.act(world.clone / WORKFLOW, "--matrix", "assignment:00_warmup"), sha, most_points(second))


@pytest.mark.notebooks  # grades notebooks in the workflow's jobs
def test_the_check_fails_on_a_broken_expression(pushes, tmp_path):
    """A misspelt step output evaluates to an empty string, and act runs on: GitHub (here its stand-in) refuses
    the empty state, and the check says so."""
    world, _, (sha, second) = pushes
    text = (world.clone / WORKFLOW).read_text()
    broken = tmp_path / "autograde.yml"
    broken.write_text(text.replace("steps.score.outputs.state", "steps.score.outputs.stat"))
    assert broken.read_text() != text
    rejected = len(world.api.rejected)
    run = world.act(broken, "--matrix", "assignment:00_warmup")
    assert run.steps_run("report").get("Summary, annotations and the score") == "success", failed(run)
    assert [code for code, _ in world.api.rejected[rejected:]] == [422]
    with pytest.raises(AssertionError, match="0 commit statuses posted, not 1"):
        assert_red(run, sha, most_points(second))


@pytest.mark.parametrize(("variable", "labels"), [
    (None, ["self-hosted", "linux", "x64", "gpu"]),  # unset: today's self-hosted GPU runners
    ("t4-gpu-runner", ["t4-gpu-runner"]),  # a GitHub-hosted GPU larger runner's name
    ('["self-hosted", "gpu-a100"]', ["self-hosted", "gpu-a100"]),  # a JSON list of labels
])
def test_the_grade_jobs_runner_comes_from_a_variable(tmp_path, variable, labels):
    """The grade job's `runs-on` as act evaluates it: the job runs only where every label it names is mapped."""
    from tests.act_run import runner_environ_for

    student = yaml.safe_load((ROOT / "student_template" / WORKFLOW).read_text())
    job = {"runs-on": student["jobs"]["grade"]["runs-on"], "steps": [{"run": "echo runner-picked"}]}
    workflow = tmp_path / "runs-on.yml"
    workflow.write_text(yaml.safe_dump({"name": "runs-on", "on": "push", "jobs": {"grade": job}}))
    git(tmp_path, "init", "--quiet")
    args = ["push", "-W", str(workflow), "--json", "--no-cache-server", "-P", f"{labels[-1]}=-self-hosted"]
    args += ["--var", f"AUTOGRADE_RUNS_ON={variable}"] if variable else []
    done = subprocess.run([str(act_binary()), *args], cwd=tmp_path, env=runner_environ_for(tmp_path / "home"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "runner-picked" in done.stdout, done.stdout[-3000:]
