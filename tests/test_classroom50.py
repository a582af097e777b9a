"""Classroom 50 as a route: the autograders `make release` writes for a course's config repository, run as
Classroom 50's runner runs them (its environment, in a checkout of a student repository), and their result.json
validated against classroom50/result/v1 (tests/classroom50_result_v1.schema.json)."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from autograder.course import classroom50, student_repo
from autograder.course import classroom50_autograder as script
from autograder.rubric import all_rubrics
from autograder.paths import ROOT
from tests.student_env import build_wheel, layered_venv, student_environ

SCHEMA = json.loads((Path(__file__).parent / "classroom50_result_v1.schema.json").read_text())
WARMUP = "00_warmup"
CLASSROOM = {"CLASSROOM": "cnn-course-2026", "ASSIGNMENT": WARMUP, "SUBMISSION_TAG": "submit/2026-12-07T17-00-00Z",
             "OWNER": "octo-student", "COMMIT_URL": "https://github.com/cnn-course/octo-student/commit/abc123",
             "RELEASE_URL": "https://github.com/cnn-course/octo-student/releases/tag/submit/2026-12-07T17-00-00Z",
             "REVIEW_URL": "https://github.com/cnn-course/octo-student/pull/1"}


def validator() -> jsonschema.protocols.Validator:
    """The schema's validator, strict about integers: 4.0 is not a whole point (JSON Schema would accept it)."""
    base = jsonschema.validators.validator_for(SCHEMA)
    strict = base.TYPE_CHECKER.redefine("integer", lambda _, value: type(value) is int)
    return jsonschema.validators.extend(base, type_checker=strict)(SCHEMA)


def assert_valid(result: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(result)]
    assert not errors, errors


def rows(*triples: tuple[str, float, float, str]) -> list[dict[str, Any]]:
    return [{"assignment": "03", "id": i, "points": p, "max_points": m, "status": s, "message": "m"}
            for i, p, m, s in triples]


def test_the_schema_holds_every_field_of_the_format_and_refuses_what_breaks_it():
    good = script.result_v1(rows(("a", 1.0, 1.0, "pass")), script.classroom(CLASSROOM), 1)
    assert_valid(good)
    assert set(SCHEMA["required"]) == {"schema", "classroom", "assignment", "assignment_type", "owner", "submission",
                                       "commit", "release", "review", "datetime", "score", "max-score", "tests"}
    broken = [{**good, "score": 4.0}, {**good, "max-score": -1}, {**good, "submission": "main"},
              {**good, "schema": "classroom50/result/v2"}, {**good, "tests": [{"test-name": "a", "passed": "yes",
                                                                               "score": 1, "max-score": 1}]},
              {k: v for k, v in good.items() if k != "review"}, {**good, "datetime": "yesterday"}]
    for result in broken:
        assert list(validator().iter_errors(result)), result


def test_partial_credit_is_scaled_and_rounded_down_and_the_total_is_the_tests_sum():
    graded = rows(("locked_cells", 0, 0, "pass"), ("params_by_layer", 2.667, 4, "fail"), ("a", 3, 3, "pass"),
                  ("b", 0, 2, "error"))
    result = script.result_v1(graded, script.classroom(CLASSROOM), 10)
    assert_valid(result)
    assert [(t["test-name"], t["passed"], t["score"], t["max-score"]) for t in result["tests"]] == [
        ("locked_cells (points x10)", True, 0, 0), ("params_by_layer (points x10)", False, 26, 40),
        ("a (points x10)", True, 30, 30), ("b (points x10)", False, 0, 20)]
    assert (result["score"], result["max-score"]) == (56, 90)
    assert script.scaled(0.3, 10) == 3 and script.scaled(0.1 + 0.2, 10) == 3 and script.scaled(2.5, 1) == 2


def test_partial_credit_list_is_every_check_that_returns_a_fraction():
    """A check whose Outcome carries `fraction=` must be in PARTIAL_CREDIT, or its assignment loses the tenths."""
    found = set()
    for path in (ROOT / "autograder" / "checks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            names = [d.args[0].value for d in node.decorator_list if isinstance(d, ast.Call)
                     and getattr(d.func, "id", "") == "check"]
            gives = any(k.arg == "fraction" for c in ast.walk(node) if isinstance(c, ast.Call) for k in c.keywords)
            assert not gives or names, f"{path.name}: {node.name} gives partial credit but is not a check"
            found |= set(names) if gives else set()
    assert found == classroom50.PARTIAL_CREDIT


def test_release_writes_one_autograder_per_released_notebook_and_a_readme(tmp_path):
    out = classroom50.write(tmp_path / "classroom50")
    released = sorted(p.name for p in (ROOT / ".released").iterdir() if any(p.glob("*.ipynb")))
    scripts = sorted(p.parent.name for p in (out / "autograders").glob("*/autograder.py"))
    assert scripts == released and len(released) == 7
    readme = (out / "README.md").read_text()
    assert all(f"`autograders/{name}/autograder.py`" in readme for name in released)
    rubrics = {r.name: r for r in all_rubrics().values()}
    makefile = (ROOT / "student_template" / "Makefile").read_text()
    for name in released:
        text = (out / "autograders" / name / "autograder.py").read_text()
        compile(text, name, "exec")
        settings = settings_of(text)
        assert settings["assignment"] == name and settings["id"] == rubrics[name].id
        assert f"GRADER_WHEEL_SHA256 ?= {settings['grader_wheel_sha256']}" in makefile
        assert settings["requirements"] == [line for line in student_repo.student_requirements().splitlines()
                                            if line and not line.startswith("#")]
    scales = {name: settings_of((out / "autograders" / name / "autograder.py").read_text())["points_scale"]
              for name in released}
    assert scales["00_warmup"] == 1 and scales["03_lenet5"] == 10 and scales["06_separable_cifar10"] == 10


def settings_of(text: str) -> dict[str, Any]:
    tree = ast.parse(text)
    (node,) = [n for n in tree.body if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "SETTINGS"]
    return ast.literal_eval(node.value)


def run_script(path: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    """``path`` run as Classroom 50's runner runs it, in ``cwd``, its own folder ($RUNNER_TEMP) beside it."""
    env = student_environ(**CLASSROOM, RUNNER_TEMP=str(cwd.parent / "runner"), **extra)
    return subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1200)


def test_missing_variables_and_a_failing_grader_exit_nonzero_and_write_no_result(tmp_path):
    path = classroom50.write(tmp_path / "c50") / "autograders" / WARMUP / "autograder.py"
    work = tmp_path / "work"
    work.mkdir()
    unset = subprocess.run([sys.executable, str(path)], cwd=work, env=student_environ(), capture_output=True,
                           text=True, timeout=120)
    assert unset.returncode == 1 and "CLASSROOM" in unset.stderr and "SUBMISSION_TAG" in unset.stderr
    broken = run_script(path, work, CNN_GRADER_PYTHON=shutil.which("false") or "/bin/false")
    assert broken.returncode == 1 and "the grader exited 1" in broken.stderr, broken.stderr
    assert not (work / "result.json").exists() and not (work / "release-body.md").exists()


def test_a_wheel_whose_digest_is_not_the_releases_is_refused(tmp_path):
    wheel = tmp_path / "grader.whl"
    wheel.write_bytes(b"not the grader")
    with pytest.raises(script.GraderFailed, match="not the release's"):
        script.download(wheel.as_uri(), tmp_path / "copy.whl", "0" * 64)
    good = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert script.download(wheel.as_uri(), tmp_path / "copy.whl", good).read_bytes() == b"not the grader"


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """00's autograder.py as the release writes it, with the grader's release a folder holding this checkout's
    wheel (by its real SHA-256), so that it installs offline."""
    dist = tmp_path_factory.mktemp("release")
    wheel = build_wheel(dist)
    settings = {**classroom50.assignment_settings(all_rubrics()["00"]), **classroom50.release_settings(),
                "grader_release": dist.as_uri(), "grader_wheel": wheel.name,
                "grader_wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}
    path = tmp_path_factory.mktemp("config") / "autograders" / WARMUP / "autograder.py"
    path.parent.mkdir(parents=True)
    path.write_text(classroom50.render(settings))
    return path


def student_repository(parent: Path, notebook: Path | None = None) -> Path:
    repo = student_repo.write(parent / "repo")
    if notebook:
        shutil.copy(notebook, repo / WARMUP / f"{WARMUP}.ipynb")
    return repo


@pytest.fixture(scope="module")
def graded_reference(config, tmp_path_factory):
    """The reference's 00 graded by autograder.py in a student repository: the grader installed into a fresh
    environment (layered on this one's packages: pip resolves the pins offline), as the runner installs it."""
    work = tmp_path_factory.mktemp("classroom50")
    repo = student_repository(work, ROOT / "reference_solutions" / WARMUP / f"{WARMUP}.ipynb")
    python = layered_venv(work / "venv")
    done = run_script(config, repo, CNN_GRADER_VENV=str(work / "venv"))
    return repo, done, python


@pytest.mark.notebooks
def test_the_reference_scores_4_of_4_with_a_valid_result(graded_reference):
    repo, done, python = graded_reference
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((repo / "result.json").read_text())
    assert_valid(result)
    assert (result["score"], result["max-score"]) == (4, 4)
    fields = {key: CLASSROOM[name] for key, name in script.CLASSROOM_ENV.items()}
    assert {key: result[key] for key in fields} == fields and result["assignment_type"] == "individual"
    names = [t["test-name"] for t in result["tests"]]
    checks = [spec.id for spec in all_rubrics()["00"].checks]
    assert all(names.count(check) == 1 for check in checks) and set(names) - set(checks) == {"locked_cells"}
    body = (repo / "release-body.md").read_text()
    assert body.startswith(f"# {WARMUP}: 4 / 4") and "| accuracy | yes | 2 / 2 |" in body
    assert "retrained by the grader" in body  # the grader's feedback message
    installed = subprocess.run([str(python), "-c", "import autograder; print(autograder.__file__)"],
                               cwd=repo, capture_output=True, text=True, env=student_environ(), timeout=120)
    assert Path(installed.stdout.strip()).is_relative_to(python.parent.parent), installed.stderr  # the wheel's


@pytest.mark.notebooks
def test_the_released_notebook_scores_0_with_a_valid_result(graded_reference, config, tmp_path):
    _, _, python = graded_reference
    repo = student_repository(tmp_path)  # 00 as released: nothing filled in
    done = run_script(config, repo, CNN_GRADER_PYTHON=str(python))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((repo / "result.json").read_text())
    assert_valid(result)
    assert (result["score"], result["max-score"]) == (0, 4)
    assert not any(t["passed"] for t in result["tests"] if t["max-score"])
    assert (repo / "release-body.md").read_text().startswith(f"# {WARMUP}: 0 / 4")


def test_the_release_command_writes_the_autograders_and_warns_of_a_placeholder_release(tmp_path, monkeypatch,
                                                                                        capsys):
    """`make release`'s command (nbgrader's part left out: it rewrites assignments/ here, tests/test_nbgrader.py
    runs it into a folder of its own)."""
    from autograder import cli
    from autograder.course import release

    monkeypatch.setattr(release, "generate", lambda names: ROOT)
    code = cli.main(["release", "--student-repo", str(tmp_path / "repo"), "--classroom50", str(tmp_path / "c50")])
    assert code == 0 and (tmp_path / "c50" / "autograders" / WARMUP / "autograder.py").is_file()
    assert (tmp_path / "c50" / "README.md").is_file() and (tmp_path / "repo" / "Makefile").is_file()
    placeholder = "COURSE_ORG" in (ROOT / "student_template" / "Makefile").read_text()
    assert (f"warning: {tmp_path / 'c50'}/autograders: the scripts name the placeholder" in capsys.readouterr().err
            ) == placeholder
