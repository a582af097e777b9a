"""The student repository `make release` writes: nothing of the instructor's in it, set up offline against a local
grader wheel, JupyterLab without nbgrader's instructor tools, the data found wherever Jupyter starts, and a
`make check` that gives the course repository's result."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import student_repo
from autograder.course.collect import workflow_digest
from autograder.errors import AutograderError
from autograder.paths import ROOT
from tests.student_env import build_wheel, layered_venv, student_environ

NBGRADER_SERVER_PARTS = ("formgrader", "validate_assignment", "assignment_list", "course_list")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return student_repo.write(tmp_path_factory.mktemp("student") / "repo")


@pytest.fixture(scope="module")
def set_up(repo, tmp_path_factory):
    """The repository after `make setup GRADER_WHEEL=...` (offline), with 00 solved as the reference solves it;
    the extension lists as they were before set-up."""
    wheel = build_wheel(tmp_path_factory.mktemp("dist"))
    python = layered_venv(repo / ".venv")
    before = extension_lists(python, repo)
    shutil.copy(ROOT / "reference_solutions" / "00_warmup" / "00_warmup.ipynb", repo / "00_warmup")
    done = subprocess.run(["make", "setup", f"GRADER_WHEEL={wheel}"], cwd=repo, env=student_environ(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return repo, python, before


def extension_lists(python: Path, cwd: Path) -> str:
    run = lambda *args: subprocess.run([str(python), "-m", *args], cwd=cwd, env=student_environ(),  # noqa: E731
                                       capture_output=True, text=True, timeout=300)
    server, lab = run("jupyter_server", "extension", "list"), run("jupyterlab.labextensions", "list")
    return server.stdout + server.stderr + lab.stdout + lab.stderr


def digests(folder: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_the_student_repository_holds_no_solution_no_source_no_rubric(repo):
    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    assert not [n for n in files if n.split("/")[0] in ("source", "reference_solutions", "tests", "autograder",
                                                        ".released", "assignments")]
    assert not [n for n, data in files.items() if b"### BEGIN SOLUTION" in data or b"BEGIN HIDDEN TESTS" in data]
    assert not [n for n in files if n.endswith(".toml")]  # no rubric, no threshold, no hidden case
    instructor = digests(ROOT / "source") | digests(ROOT / "reference_solutions")
    assert not [n for n, data in files.items() if hashlib.sha256(data).hexdigest() in instructor]
    notebooks = sorted(n for n in files if n.endswith(".ipynb"))
    assert notebooks == sorted(p.relative_to(ROOT / ".released").as_posix()
                               for p in (ROOT / ".released").rglob("*.ipynb"))
    assert all(files[n] == (ROOT / ".released" / n).read_bytes() for n in notebooks)  # as released
    assert {"Makefile", "README.md", "requirements.txt", ".gitignore", ".cnn-course",
            ".github/workflows/autograde.yml"} <= set(files)
    readme = files["README.md"].decode()
    assert "make check" in readme and "reference_solutions" not in readme and "](docs/" not in readme
    assert "nbgrader generate" not in readme and "make release" not in readme
    assert workflow_digest(repo) == workflow_digest(ROOT / "student_template")


def test_the_students_requirements_are_the_locked_versions_of_what_the_coursework_needs_and_no_more(repo):
    """Every line is cpu.lock's; what each pinned package needs is pinned too (pip's own setuptools and wheel
    aside: pip installs them as needed, `pip freeze` never locks them); the instructor's tools are not."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pinned = [line for line in (repo / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert set(pinned) <= set((ROOT / "requirements" / "cpu.lock").read_text().splitlines())
    names = {canonicalize_name(line.split("==")[0]) for line in pinned}
    assert {"tensorflow-cpu", "keras", "jupyterlab", "nbgrader", "papermill", "pytest", "matplotlib"} <= names
    assert not names & {"torch", "ray", "pytest-xdist", "copydetect"}
    unpinned = {(name, canonicalize_name(r.name)) for name in names
                for r in map(Requirement, metadata.distribution(name).requires or [])
                if (r.marker is None or r.marker.evaluate({"extra": ""})) and canonicalize_name(r.name) not in names}
    assert {needs for _, needs in unpinned} <= {"setuptools", "wheel"}, unpinned  # pip's own, never locked


def test_the_grader_release_is_the_same_in_the_makefile_and_the_workflow(repo):
    workflow = (repo / ".github/workflows/autograde.yml").read_text()
    makefile = (repo / "Makefile").read_text()
    for workflow_name, make_name in (("GRADER_RELEASE", "GRADER_RELEASE"), ("GRADER_WHEEL", "GRADER_WHEEL_NAME"),
                                     ("GRADER_WHEEL_SHA256", "GRADER_WHEEL_SHA256")):
        value = next(line.split(":", 1)[1].strip() for line in workflow.splitlines()
                     if line.strip().startswith(f"{workflow_name}:"))
        assert f"{make_name} ?= {value}" in makefile


def test_placeholders_of_the_grader_release_are_named_by_file_and_line(tmp_path):
    (tmp_path / "Makefile").write_text("A ?= 1\nGRADER_RELEASE ?= https://github.com/COURSE_ORG/g/releases/x\n"
                                       "GRADER_WHEEL_SHA256 ?= " + "0" * 64 + "\nOTHER ?= " + "0" * 65 + "\n")
    warnings = student_repo.placeholder_warnings(tmp_path)
    assert [w.split(": ", 1)[0] for w in warnings] == [f"{tmp_path / 'Makefile'}:2", f"{tmp_path / 'Makefile'}:3"]
    assert "release URL (GRADER_RELEASE) is still the placeholder COURSE_ORG" in warnings[0]
    assert "GRADER_WHEEL_SHA256 is still the placeholder" in warnings[1]
    assert all("student_template/Makefile" in w and "make release" in w for w in warnings)
    (tmp_path / "Makefile").write_text("GRADER_RELEASE ?= https://github.com/us/g/releases/x\n"
                                       "GRADER_WHEEL_SHA256 ?= " + "ab" * 32 + "\n")
    assert student_repo.placeholder_warnings(tmp_path) == []


def test_the_released_repository_is_warned_of_every_placeholder_left(repo):
    warnings = student_repo.placeholder_warnings(repo)
    named = {w.split(": ", 1)[0].removeprefix(f"{repo}/") for w in warnings}
    makefile, workflow = ((repo / p).read_text().splitlines() for p in ("Makefile", student_repo.WORKFLOW))
    expected = {f"Makefile:{n}" for n, line in enumerate(makefile, 1) if "COURSE_ORG" in line or "0" * 64 in line}
    expected |= {f"{student_repo.WORKFLOW.as_posix()}:{n}" for n, line in enumerate(workflow, 1)
                 if "COURSE_ORG" in line or "0" * 64 in line}
    assert named == expected and len(expected) >= 5  # the URL and digest of each, the workflow's gpu.lock digest


def test_the_student_makefile_names_its_own_data_command():
    assert "export CNN_COURSE_FETCH ?= make data" in (ROOT / "student_template" / "Makefile").read_text()


def test_the_workflow_digest_sees_a_changed_workflow(repo, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(repo / ".github", changed / ".github")
    path = changed / student_repo.WORKFLOW
    path.write_text(path.read_text().replace('--profile "$PROFILE"', "--profile smoke"))
    assert workflow_digest(changed) != workflow_digest(repo)
    assert workflow_digest(tmp_path / "none") is None


def test_setup_switches_off_nbgrader_in_jupyter(set_up):
    repo, python, before = set_up
    for part in NBGRADER_SERVER_PARTS:  # as pip installed them: on
        assert f"nbgrader.server_extensions.{part} \x1b[32menabled" in before, before
    assert "@jupyter/nbgrader v" in before and "\x1b[32menabled" in before.split("@jupyter/nbgrader v")[1][:40]
    after = extension_lists(python, repo)
    for part in NBGRADER_SERVER_PARTS:
        assert f"nbgrader.server_extensions.{part} \x1b[31mdisabled" in after, after
    assert "\x1b[31mdisabled" in after.split("@jupyter/nbgrader v")[1][:40], after


def test_coursework_comes_from_the_wheel_and_the_grader_hides_from_nothing_else(set_up):
    repo, python, _ = set_up
    probe = subprocess.run([str(python), "-c", "import coursework, autograder; print(coursework.__file__); "
                            "print(autograder.__file__)"], cwd=repo, env=student_environ(), capture_output=True,
                           text=True, timeout=120)
    lines = probe.stdout.split()
    assert len(lines) == 2 and all(Path(p).is_relative_to(repo / ".venv") for p in lines), probe.stderr


def test_the_data_cell_finds_the_repositorys_data_wherever_jupyter_starts(set_up, data_dir, tmp_path):
    """A kernel started in a notebook's folder (JupyterLab's default) with no $CNN_COURSE_DATA and an empty Keras
    cache finds MNIST in the repository's data/ folder."""
    repo, python, _ = set_up
    (repo / "data").mkdir(exist_ok=True)
    shutil.copy(data_dir / "mnist.npz", repo / "data" / "mnist.npz")
    env = student_environ(KERAS_HOME=str(tmp_path / "keras"), CNN_COURSE_OFFLINE="1")
    probe = "from coursework.datasets import load_mnist; (x, y), _ = load_mnist(None); print(len(x))"
    for cwd in (repo / "03_lenet5", repo):
        done = subprocess.run([str(python), "-c", probe], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0 and int(done.stdout.split()[-1]) > 0, done.stderr[-2000:]
    elsewhere = subprocess.run([str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=300)
    assert elsewhere.returncode != 0 and "not found" in elsewhere.stderr  # outside the repository: not found


def rows(results_json: Path) -> list[tuple]:
    return [(r["assignment"], r["id"], r["status"], r["points"], r["max_points"], r["message"])
            for r in json.loads(results_json.read_text())["results"]]


@pytest.mark.notebooks
def test_make_check_gives_the_course_repositorys_result_offline(set_up, tmp_path):
    repo, _, _ = set_up
    done = subprocess.run(["make", "check", "ASSIGNMENT=00"], cwd=repo, env=student_environ(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "00: 4 / 4" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    course = tmp_path / "course"  # the course repository's `make check` of the same notebook
    shutil.copytree(repo / "00_warmup", course / "00_warmup")
    python = Path(sys.prefix).resolve() / "bin" / "python"  # the real path: a linked .venv is not in the sandbox
    ours = subprocess.run([str(python), "-m", "autograder", "grade", str(course), "--profile", "smoke", "--out",
                           str(tmp_path / "check"), "--sandbox", "prefer", "--assignment", "00"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert ours.returncode == 0, ours.stderr[-3000:]
    assert rows(repo / "grading" / "check" / "results.json") == rows(tmp_path / "check" / "results.json")


def test_the_data_folder_is_searched_after_the_variable_and_before_keras(tmp_path, monkeypatch):
    from coursework import datasets

    (tmp_path / datasets.REPO_MARKER).write_text("")
    (tmp_path / "03_lenet5").mkdir()
    monkeypatch.chdir(tmp_path / "03_lenet5")
    monkeypatch.setenv("CNN_COURSE_DATA", str(tmp_path / "course"))
    assert [d for _, d in datasets.search_dirs("arg")] == [
        Path("arg"), tmp_path / "course", tmp_path / "data", datasets.keras_cache_dir()]
    monkeypatch.chdir(tmp_path.parent)  # outside any student repository: no data folder searched
    assert tmp_path / "data" not in [d for _, d in datasets.search_dirs()]


def test_a_student_requirement_that_is_not_installed_says_to_set_up_first():
    with pytest.raises(AutograderError, match=r"no-such-package is not installed: `make setup` first"):
        student_repo.needed(["no-such-package"])
