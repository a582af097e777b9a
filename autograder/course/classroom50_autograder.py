"""Classroom 50's ``autograder.py`` for one notebook of the course (``make release`` writes one per assignment).

Classroom 50's runner runs this file from the course's config repository (``autograders/NN_name/autograder.py``)
in a checkout of the student's repository. It installs the course's grader (the release's wheel, checked by its
SHA-256, with the pinned packages below), grades the one notebook as the student's ``make check`` does
(``python -m autograder grade . --assignment NN``), and writes

- ``./result.json`` in the ``classroom50/result/v1`` format: one test per row of the grader's report (the rubric's
  checks and the grader's own rows, such as ``locked_cells``), with integer points (see ``points_scale``);
- ``./release-body.md``: the score table and the grader's feedback messages (the grader's own inert Markdown).

It exits 0 whenever grading ran end to end, whatever the score, and non-zero only when the grader itself failed
(no environment, no data, no report, a kernel that never started): then no result is written, never a zero.

Points: Classroom 50 counts whole points. Each check's points are multiplied by ``points_scale`` (1 when no check
of the assignment gives partial credit, else 10) and rounded down to a whole number; ``max-score`` is the sum of
the scaled maxima. A scaled test says so in its name (``params_by_layer (points x10)``).

Environment: Classroom 50 sets CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, OWNER, COMMIT_URL, RELEASE_URL and
REVIEW_URL. The course may set CNN_COURSE_PROFILE (``smoke``, the default, fits Classroom 50's 15-minute job;
``full`` only on a GPU runner without that cap), CNN_COURSE_DATA (the data sets on the runner), CNN_GRADER_PYTHON
(a Python that already has the grader and its packages, e.g. a runner image's) or CNN_GRADER_VENV (where to
install them; default: a folder under $RUNNER_TEMP).

This file uses the standard library only: it runs before the grader is installed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

# --- settings: written by `make release` (autograder/course/classroom50.py) ---
SETTINGS: dict[str, Any] = {
    "assignment": "00_warmup",
    "id": "00",
    "title": "Warm-up",
    "profile": "smoke",
    "points_scale": 1,
    "fetch_data": False,
    "grader_release": "https://github.com/COURSE_ORG/cnn-grader/releases/download/grader-v0.2.0",
    "grader_wheel": "cnn_course_autograder-0.2.0-py3-none-any.whl",
    "grader_wheel_sha256": "0" * 64,
    "gpu_lock_sha256": "0" * 64,
    "requirements": [],
}
# --- end of settings ---

SCHEMA = "classroom50/result/v1"
CLASSROOM_ENV = {"classroom": "CLASSROOM", "assignment": "ASSIGNMENT", "submission": "SUBMISSION_TAG",
                 "owner": "OWNER", "commit": "COMMIT_URL", "release": "RELEASE_URL", "review": "REVIEW_URL"}
PROFILES = ("smoke", "full")
KERNEL_START = "kernel_start"  # the grader's row for a kernel that never started: its own failure, not the student's


class GraderFailed(Exception):
    """The grader itself could not grade (an infrastructure error): exit non-zero, write no result."""


def classroom(env: Mapping[str, str]) -> dict[str, str]:
    """The submission's fields from the variables Classroom 50 sets (every one is needed)."""
    missing = [name for name in CLASSROOM_ENV.values() if not env.get(name)]
    if missing:
        raise GraderFailed(f"Classroom 50's variables are not set: {', '.join(missing)}")
    fields = {key: env[name] for key, name in CLASSROOM_ENV.items()}
    if not fields["submission"].startswith("submit/"):
        raise GraderFailed(f"SUBMISSION_TAG {fields['submission']!r} is not a submit/... tag")
    kind = {"assignment_type": env.get("ASSIGNMENT_TYPE") or "individual"}  # Classroom 50 sets none: ours
    return {**{k: fields[k] for k in ("classroom", "assignment")}, **kind, **fields}


def profile(env: Mapping[str, str], settings: Mapping[str, Any]) -> str:
    chosen = env.get("CNN_COURSE_PROFILE") or settings["profile"]
    if chosen not in PROFILES:
        raise GraderFailed(f"CNN_COURSE_PROFILE={chosen!r}: expected one of {', '.join(PROFILES)}")
    return chosen


def run(command: Sequence[Any], **kwargs: Any) -> None:
    """Run ``command``; a failure is the grader's (its set-up), reported with the command's last words."""
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise GraderFailed(f"{' '.join(map(str, command[:4]))} ... exited {done.returncode}:\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")


def download(url: str, target: Path, sha256: str) -> Path:
    """``url`` into ``target``, kept only when its SHA-256 is ``sha256``."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    except OSError as error:
        raise GraderFailed(f"cannot download {url}: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise GraderFailed(f"{url} has SHA-256 {digest}, not the release's {sha256}")
    target.write_bytes(data)
    return target


def workspace(env: Mapping[str, str]) -> Path:
    """This script's own folder, outside the student's checkout: the grader's environment and reports."""
    home = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "classroom50-grader"
    home.mkdir(parents=True, exist_ok=True)
    return home


def grader_python(settings: Mapping[str, Any], env: Mapping[str, str], chosen: str) -> Path:
    """A Python with the course's grader: the one given, else a virtual environment installed here."""
    if env.get("CNN_GRADER_PYTHON"):
        return Path(env["CNN_GRADER_PYTHON"])
    home = workspace(env)
    venv = Path(env.get("CNN_GRADER_VENV") or home / "venv")
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", venv], timeout=600)
    release = settings["grader_release"].rstrip("/")
    wheel = download(f"{release}/{settings['grader_wheel']}", home / settings["grader_wheel"],
                     settings["grader_wheel_sha256"])
    requirements = home / "requirements.txt"
    if chosen == "full":  # the GPU runner's exact lock, as the course's own workflow installs it
        download(f"{release}/gpu.lock", requirements, settings["gpu_lock_sha256"])
    else:  # the student's packages (TensorFlow on the CPU), at the course's versions
        requirements.write_text("\n".join(settings["requirements"]) + "\n", encoding="utf-8")
    run([python, "-m", "pip", "install", "--quiet", "-r", requirements], timeout=1800)
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", wheel], timeout=600)
    return python


def grade(python: Path, settings: Mapping[str, Any], chosen: str, env: Mapping[str, str],
          reports: Path) -> dict[str, Any]:
    """The grader's report (its results.json, in ``reports``) of this assignment's notebook in this folder."""
    if settings["fetch_data"] and not env.get("CNN_COURSE_DATA"):
        run([python, "-m", "autograder", "data", "fetch"], timeout=900)
    done = subprocess.run([str(python), "-m", "autograder", "grade", ".", "--profile", chosen, "--out",
                           str(reports), "--sandbox", "prefer", "--assignment", settings["id"]],
                          capture_output=True, text=True)
    sys.stderr.write(done.stderr[-20000:])
    if done.returncode != 0:
        raise GraderFailed(f"the grader exited {done.returncode}: {done.stderr[-3000:]}")
    try:
        report = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GraderFailed(f"the grader wrote no readable report: {error}") from error
    rows = [row for row in report.get("results", []) if row.get("assignment") == settings["id"]]
    if not rows:
        raise GraderFailed(f"the grader's report holds no result for {settings['assignment']}")
    for row in rows:
        if row.get("id") == KERNEL_START and row.get("status") == "error" and not row.get("max_points"):
            raise GraderFailed(f"the notebook's kernel never started: {row.get('message')}")
    return report


def scaled(points: float, scale: int) -> int:
    """``points`` times ``scale``, rounded down to a whole number (a hair's tolerance for 0.1 + 0.2)."""
    return max(0, math.floor(float(points) * scale + 1e-6))


def tests(rows: Sequence[Mapping[str, Any]], scale: int) -> list[dict[str, Any]]:
    """One Classroom 50 test per row of the grader's report."""
    suffix = f" (points x{scale})" if scale != 1 else ""
    return [{"test-name": f"{row['id']}{suffix}", "passed": row["status"] == "pass",
             "score": scaled(row["points"], scale), "max-score": scaled(row["max_points"], scale)} for row in rows]


def result_v1(rows: Sequence[Mapping[str, Any]], fields: Mapping[str, str], scale: int,
              now: Optional[datetime.datetime] = None) -> dict[str, Any]:
    """The ``classroom50/result/v1`` document of one graded notebook."""
    graded = tests(rows, scale)
    moment = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
    return {"schema": SCHEMA, **fields, "datetime": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "score": sum(t["score"] for t in graded), "max-score": sum(t["max-score"] for t in graded),
            "tests": graded}


def release_body(result: Mapping[str, Any], settings: Mapping[str, Any], chosen: str, summary: str) -> str:
    """The release's text: the score, a table of the tests, then the grader's own summary (its messages)."""
    scale = settings["points_scale"]
    scaling = "" if scale == 1 else f" Points are the rubric's times {scale}, rounded down to a whole number."
    lines = [f"# {settings['assignment']}: {result['score']} / {result['max-score']}", "",
             f"Graded by the course's grader with the {chosen} profile.{scaling}", "",
             "| test | passed | score |", "|---|---|---:|"]
    lines += [f"| {t['test-name']} | {'yes' if t['passed'] else 'no'} | {t['score']} / {t['max-score']} |"
              for t in result["tests"]]
    section = summary.find("\n## ")  # the grader's own title and total table repeat what is above
    feedback = summary[section:] if section >= 0 else summary
    return "\n".join(lines + ["", "The grader's feedback, check by check:", "", feedback.strip(), ""])


def main(env: Mapping[str, str] = os.environ) -> int:
    settings = SETTINGS
    try:
        fields = classroom(env)
        chosen = profile(env, settings)
        python = grader_python(settings, env, chosen)
        reports = Path(tempfile.mkdtemp(prefix="reports-", dir=workspace(env)))  # fresh: nothing of the student's
        report = grade(python, settings, chosen, env, reports)
    except GraderFailed as error:
        print(f"autograder.py ({settings['assignment']}): the grader failed, no result written: {error}",
              file=sys.stderr)
        return 1
    rows = [row for row in report["results"] if row.get("assignment") == settings["id"]]
    result = result_v1(rows, fields, settings["points_scale"])
    Path("result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    summary = (reports / "summary.md").read_text(encoding="utf-8") if (reports / "summary.md").is_file() else ""
    Path("release-body.md").write_text(release_body(result, settings, chosen, summary), encoding="utf-8")
    print(f"{settings['assignment']}: {result['score']} / {result['max-score']} (result.json, release-body.md; "
          f"the grader's reports, executed notebook and feedback page in {reports})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
