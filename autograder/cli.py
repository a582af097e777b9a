"""Command line: ``python -m autograder COMMAND``.

Heavy frameworks are imported by the commands that need them, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from autograder.defaults import RECORD_PROFILE, TRY_PROFILE
from autograder.errors import AutograderError, CourseError
from autograder.inert import terminal_safe
from autograder.rubric import PROFILES
from autograder.sandbox import SANDBOX_MODES
from coursework.environment import ENV_DIR


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 32,32,3, got {text!r}") from None


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=os.environ.get(ENV_DIR),
                        help=f"the course's data sets (default: ${ENV_DIR})")


def _rubric_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rubric-dir", metavar="DIR", help="grade with the rubrics of DIR, an edited copy of "
                        "autograder/rubric/ (default: $AUTOGRADER_RUBRIC_DIR, else the grader's own)")


def _grading_options(parser: argparse.ArgumentParser) -> None:
    """What `grade` and `batch` share."""
    parser.add_argument("--assignment", nargs="+", metavar="ID", help="assignment ids or names (default: all present)")
    parser.add_argument("--profile", choices=PROFILES, default=TRY_PROFILE)
    parser.add_argument("--out", default="grading", help="report directory (default: grading/)")
    _data_option(parser)
    _rubric_option(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell-timeout", type=float, help="seconds per cell (default: the rubric's)")
    parser.add_argument("--notebook-timeout", type=float, help="seconds per notebook (default: the rubric's)")
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, default="require",
                        help="run student code in the bubblewrap sandbox: require it (default), prefer it "
                        "(warn and go on without one where it cannot start), or off")
    parser.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off",
                        help="run student code without a sandbox (same as --sandbox off)")


def _settings(args: argparse.Namespace):
    from autograder.grading import GradingSettings

    limits = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout}
    return GradingSettings(args.profile, args.data_dir, args.seed,
                           limits={k: v for k, v in limits.items() if v is not None}, sandbox=args.sandbox)


def _add_inspect(commands: Any) -> None:
    """`inspect`: a model layer by layer."""
    inspect = commands.add_parser(
        "inspect", help="print every layer's output shape, parameters, receptive field and jump",
        description="Describe a model layer by layer. PATH is a .keras file or a Python file defining build_model().",
    )
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument("--input-shape", type=_shape,
                         help="input shape without the batch axis: H,W,C for Keras, C,H,W for PyTorch")
    inspect.add_argument("--json", action="store_true", help="print a JSON list, one object per layer")


def _add_grading(commands: Any) -> None:
    """`grade` (one submission) and `batch` (a class)."""
    grade = commands.add_parser(
        "grade", help="grade a submission: execute each notebook, score it outside its kernel, write reports",
        description="Grade SUBMISSION_DIR, laid out like assignments/ (NN_name/NN_name.ipynb). "
        "Exits 0 whenever grading completed, whatever the score.",
    )
    grade.add_argument("submission", metavar="SUBMISSION_DIR")
    _grading_options(grade)

    batch = commands.add_parser(
        "batch", help="grade a whole class: CLASS_DIR/STUDENT/NN_name/NN_name.ipynb (nbgrader's submitted/ layout)",
        description="Grade every student folder of CLASS_DIR; grades.csv, gradebook.csv and the class report hold "
        "every result stored in --out. Exits 0 when every notebook has a grade, 1 when the grader's own machinery "
        "failed on some (stored to retry, never as a grade: the next run grades them again), 2 when nothing could "
        "be graded (the preflight), 130 when interrupted.",
    )
    batch.add_argument("class_dir", metavar="CLASS_DIR")
    _grading_options(batch)
    batch.add_argument("--jobs", "-j", type=int, help="notebooks graded at once (default: one per GPU, "
                       "else as many as the cores and memory allow)")
    batch.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="where jobs run: processes on this machine (default) or a Ray cluster")
    batch.add_argument("--address", help="the Ray cluster (\"auto\": the one this machine belongs to; "
                       "default: start one here)")
    batch.add_argument("--student", action="append", metavar="NAME",
                       help="regrade only this student (repeatable); the others' stored results stay")
    batch.add_argument("--course-config", help="due dates per assignment (default: course.toml here, if any)")
    batch.add_argument("--retry-errors", action="store_true",
                       help="also grade again the stored notebooks whose result holds an error, timeout or "
                       "kernel-died check (notebooks the grader itself failed on are retried by every run)")


def _add_similarity(commands: Any) -> None:
    """`similarity`: copied work across a graded class."""
    similar = commands.add_parser(
        "similarity", help="compare a graded class for copied work: similar code, identical models",
        description="Compare every pair of students per assignment in GRADING_DIR (what `batch` wrote): their "
        "own code and their saved models. Writes similarity.html/.md/.json and the class report's section. "
        "Similarity is evidence for a person to weigh; it never changes a grade.",
    )
    similar.add_argument("grading", metavar="GRADING_DIR")
    similar.add_argument("--assignment", nargs="+", metavar="ID", help="assignment ids or names (default: all)")
    similar.add_argument("--released", help="the released notebooks (default: the grader's .released/)")


def _add_score(commands: Any) -> None:
    """`score`: one notebook's artifacts (nbgrader's grade cells)."""
    score = commands.add_parser("score", help="score one notebook's artifacts (what nbgrader grade cells call)")
    score.add_argument("artifacts", metavar="OUTPUT_DIR")
    score.add_argument("--assignment", required=True)
    score.add_argument("--check", action="append", help="check id (repeatable; default: all)")
    score.add_argument("--profile", choices=PROFILES, default=TRY_PROFILE)
    score.add_argument("--notebook", help="the notebook, for checks that read or run its definitions")
    _data_option(score)
    _rubric_option(score)


def _add_course(commands: Any) -> None:
    """`release`, `autograde` (nbgrader) and `calibrate`: the instructor's course commands."""
    release = commands.add_parser("release", help="nbgrader generate_assignment into assignments/, "
                                  "and the completed notebooks into reference_solutions/")
    release.add_argument("assignment", nargs="*", help="assignment names (default: all in source/)")
    release.add_argument("--student-repo", default="build/student_repo", metavar="DIR",
                         help="also write the student repository here (default: build/student_repo)")
    release.add_argument("--classroom50", default="build/classroom50", metavar="DIR",
                         help="also write the Classroom 50 autograders here (default: build/classroom50)")

    nbgrade = commands.add_parser("autograde", help="nbgrader autograde + export for the course in this directory")
    nbgrade.add_argument("assignment", nargs="*", help="assignment names (default: all in source/)")
    nbgrade.add_argument("--profile", choices=PROFILES, default=RECORD_PROFILE)
    nbgrade.add_argument("--course", default=".", help="the nbgrader course directory (default: .)")
    _rubric_option(nbgrade)
    nbgrade.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off", default="require",
                         help="run student code without the bubblewrap sandbox (refused by default where none starts)")

    calibrate = commands.add_parser("calibrate", help="rerun the reference solutions and compare with the rubric")
    calibrate.add_argument("--profile", choices=PROFILES, default=TRY_PROFILE)
    calibrate.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    calibrate.add_argument("--assignment", nargs="+", metavar="ID")
    _data_option(calibrate)
    calibrate.add_argument("--write", action="store_true", help="record the measured figures in the rubric files")
    calibrate.add_argument("--out", type=Path, metavar="DIR", help="keep each seed's grading folder and the figures "
                           "(calibration.json) in DIR")
    calibrate.add_argument("--merge", type=Path, nargs="+", metavar="JSON", help="measure nothing: merge the "
                           "calibration.json files of runs of other seeds (run side by side), then print or --write")
    calibrate.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON to FILE")
    calibrate.add_argument("--records", type=Path, metavar="DIR", help="store each notebook and seed in "
                           "DIR/PROFILE/NN_name.seedS.json as it finishes and skip those stored for this grader "
                           "and rubric (a GPU run replaces CPU records); `make calibrate` passes calibration/")
    cost = commands.add_parser("cost", help="estimate the training work, hours and price of grading a class")
    cost.add_argument("--profile", choices=PROFILES, default=RECORD_PROFILE)
    cost.add_argument("--class-size", type=int, default=100, metavar="N")
    cost.add_argument("--gpu", default="T4", help="the GPU whose peak throughput is the floor (autograder/cost.toml)")
    cost.add_argument("--assignment", nargs="+", metavar="ID")
    cost.add_argument("--records", type=Path, metavar="DIR", help="calibration records (default: calibration/)")

    kit = commands.add_parser("gpu-kit", help="gather what an offline GPU machine needs to run the grader, in parts")
    kit.add_argument("--out", type=Path, default=Path("build/gpu-kit"), help="default: build/gpu-kit (emptied)")
    kit.add_argument("--python-version", default="3.12", help="the GPU machine's Python ('native': this one's)")
    kit.add_argument("--datasets", nargs="+", default=None, metavar="NAME", help="default: all three")
    kit.add_argument("--part-mib", type=int, default=60, help="the most one part may hold (default: 60 MiB)")
    kit.add_argument("--no-bubblewrap", dest="bubblewrap", action="store_false",
                     help="leave Debian's bubblewrap package out (the GPU machine has bwrap)")
    _data_option(kit)


def _add_data(commands: Any) -> None:
    """`data locate|fetch|cats-and-dogs`."""
    data = commands.add_parser("data", help="find, fetch or build the course's data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    locate = data_commands.add_parser("locate", help="say where each data set is found")
    locate.add_argument("--data-dir", help="a folder to search first")
    data_commands.add_parser("fetch", help="download MNIST, CIFAR-10 and VGG16's ImageNet weights into Keras's "
                             "cache (needs a network)")
    build = data_commands.add_parser("cats-and-dogs", help="build dogs-vs-cats small from Kaggle's train.zip")
    build.add_argument("--archive", required=True, help="Kaggle's Dogs vs. Cats train.zip, or its extracted folder")
    build.add_argument("--out", required=True, help="the folder to create (name it cats_and_dogs_small)")


def _add_returns(commands: Any) -> None:
    """`export` (an LMS's gradebook) and `feedback` (back to the students)."""
    export = commands.add_parser("export", help="grades for an LMS: Canvas's or Moodle's gradebook import, or a "
                                 "plain CSV, from a class run's grading folder and a roster",
                                 description="Write the LMS import of GRADING_DIR/grades.csv for the roster's "
                                 "students. Writes nothing and exits 2 when no roster row matches a submission, a "
                                 "graded submission has no roster row (unless --allow-unmatched), a row has none "
                                 "of the ids the LMS matches on, two folders would read as one student, or a "
                                 "notebook is still to be retried.")
    export.add_argument("grading", metavar="GRADING_DIR")
    from autograder.course.export import EXPORTERS  # light: csv, re and the grader's own small modules

    export.add_argument("--format", choices=tuple(EXPORTERS), required=True)
    export.add_argument("--roster", required=True, metavar="ROSTER.csv",
                        help="one row per student: the submission folder (github_username, login, ...) and the "
                        "LMS's ids (Canvas: Student, ID, SIS User ID, SIS Login ID, Section; Moodle: email or "
                        "idnumber); a Canvas gradebook export works")
    export.add_argument("--out", help="the file to write (default: GRADING_DIR/export-FORMAT.csv)")
    export.add_argument("--allow-unmatched", action="store_true",
                        help="leave out (and name) graded submissions with no roster row instead of refusing")

    feedback = commands.add_parser("feedback", help="hand back each student's feedback pages and graded "
                                   "notebooks: a folder per student, or nbgrader's feedback/ tree")
    feedback.add_argument("grading", metavar="GRADING_DIR")
    where = feedback.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", metavar="DIR", help="write DIR/STUDENT/ for each student")
    where.add_argument("--nbgrader", metavar="COURSE", help="write COURSE/feedback/STUDENT/NN_name/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Autograder for the convolutional-networks coursework.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_inspect, _add_grading, _add_similarity, _add_score, _add_course, _add_data, _add_actions,
                _add_collect, _add_returns):
        add(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if getattr(args, "rubric_dir", None):  # for this process and every worker, scorer and nbgrader run it starts
        from autograder.rubric import RUBRIC_DIR_VARIABLE

        os.environ[RUBRIC_DIR_VARIABLE] = str(Path(args.rubric_dir).resolve())
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "inspect": _inspect, "grade": _grade, "batch": _batch, "score": _score, "release": _release,
        "autograde": _autograde, "calibrate": _calibrate, "data": _data, "actions": _actions, "job-key": _job_key,
        "collect": _collect, "similarity": _similarity, "export": _export, "feedback": _feedback, "cost": _cost,
        "gpu-kit": _gpu_kit,
    }
    try:
        return handlers[args.command](args)
    except CourseError as exc:  # an expected failure: its message, not a traceback
        print(f"error: {terminal_safe(exc, keep_newlines=True)}", file=sys.stderr)
        return 2


def _inspect(args: argparse.Namespace) -> int:
    from autograder.modelspec import layer_table

    print(layer_table.run(args.path, args.input_shape, args.json))
    return 0


def _directory(path: str) -> Optional[Path]:
    if not Path(path).is_dir():
        print(f"error: {terminal_safe(path)} is not a directory", file=sys.stderr)
        return None
    return Path(path)


def _grade(args: argparse.Namespace) -> int:
    from autograder.pipeline import report
    from autograder.pipeline.grade import grade
    from autograder.progress import display

    submission = _directory(args.submission)
    if submission is None:
        return 2
    notebooks = grade(submission, Path(args.out), args.assignment, _settings(args),
                      progress=display(sys.stderr))
    print(report.table([r for nb in notebooks for r in nb.results]))
    print(f"\nReports in {args.out}/: results.json, summary.md, junit.xml, executed notebooks and HTML feedback")
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from autograder import similarity

    grading = _directory(args.grading)
    if grading is None:
        return 2
    from autograder.similarity import report as sim_report

    found = similarity.write(grading, Path(args.released) if args.released else None, args.assignment)
    for a in found:
        print(_printable(f"{a.assignment}: {sim_report.counts_line(a)} Not compared: {len(a.not_compared)}."))
        for p in a.pairs[:10]:
            print(_printable(f"  {p.score:.2f}  {p.a} and {p.b}: {'; '.join(p.reasons)}"))
    print(f"\nEvidence in {grading / 'similarity.html'} (and the class report's last section). "
          "Similarity is evidence for a person to weigh; no grade was changed.")
    return 0


def _printable(text: str) -> str:
    """``text`` with every control character (a terminal escape from a folder name) shown as its code."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _batch(args: argparse.Namespace) -> int:
    from autograder.classrun import store
    from autograder.classrun.run import grade_class
    from autograder.pipeline import report
    from autograder.progress import display

    class_dir = _directory(args.class_dir)
    if class_dir is None:
        return 2
    out = Path(args.out)
    if args.jobs is not None and args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: end the workers, keep what finished
    try:
        graded = grade_class(class_dir, out, args.assignment, _settings(args), args.jobs, args.executor,
                             args.address, args.student, Path(args.course_config) if args.course_config else None,
                             display(sys.stderr), retry_errors=args.retry_errors)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {out / 'grades.csv'} holds every notebook finished so far; "
              "the same command resumes", file=sys.stderr)
        return 130
    for student, notebooks in graded.items():
        print(report.total_line(student, notebooks))
    print(f"\nGrades in {out / 'grades.csv'} (wide: {out / 'gradebook.csv'}), class report in "
          f"{out / 'class_report.html'}; each student's reports in {out}/STUDENT/")
    left = store.retries(out.resolve())
    if left:
        print(f"error: {len(left)} notebook(s) have no final grade: the grader's own machinery failed on them (see "
              "above); run the same command again to retry them", file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace) -> int:
    from autograder.course.export import write

    path, done = write(Path(args.grading), Path(args.roster), args.format, Path(args.out) if args.out else None,
                       args.allow_unmatched)
    if done.unsubmitted:
        print(terminal_safe(f"on the roster, nothing graded (0 points): {', '.join(done.unsubmitted)}"),
              file=sys.stderr)
    if done.unrostered:
        print(terminal_safe(f"graded, not on the roster (left out): {', '.join(done.unrostered)}"), file=sys.stderr)
    if done.stale:
        print(terminal_safe(f"exported as stored, stale (graded with other inputs and not regraded since): "
                            f"{', '.join(done.stale)}"), file=sys.stderr)
    if done.awaiting:
        print(terminal_safe(f"exported with written answers awaiting review (no points for them yet; enter them in "
                            f"{args.grading}/review/ and run batch again): {', '.join(done.awaiting)}"),
              file=sys.stderr)
    print(f"{args.format} import written to {path}")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from autograder.course.feedback import return_feedback, written_lines
    from autograder.grading import load_rubrics

    written = return_feedback(Path(args.grading), load_rubrics(), Path(args.to) if args.to else None,
                              Path(args.nbgrader) if args.nbgrader else None)
    for line in written_lines(written):
        print(_printable(line))
    print(f"feedback for {len(written)} student(s)")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _score(args: argparse.Namespace) -> int:
    import json

    from autograder import rubric as rubrics
    from autograder.pipeline.score import score

    notebook = Path(args.notebook) if args.notebook else None
    results = score(rubrics.find(args.assignment), args.profile, Path(args.artifacts), notebook, args.data_dir,
                    args.check)
    print(json.dumps([r.to_dict() for r in results]))
    return 0


def _release(args: argparse.Namespace) -> int:
    from autograder.course import classroom50, student_repo
    from autograder.course.release import generate

    out = generate(args.assignment)
    repository = student_repo.write(Path(args.student_repo))
    classroom = classroom50.write(Path(args.classroom50))
    for warning in student_repo.placeholder_warnings(repository) + classroom50.placeholder_warning(classroom):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"released into {out / 'assignments'} and {out / 'reference_solutions'}; "
          f"the student repository (a template for GitHub) in {repository}; Classroom 50's autograders in "
          f"{classroom}")
    return 0


def _autograde(args: argparse.Namespace) -> int:
    from autograder.course.nbgrader_course import autograde
    from autograder.progress import display

    path = autograde(Path(args.course), args.assignment, args.profile, sandbox=args.sandbox,
                     progress=display(sys.stderr))
    print(f"grades exported to {path} (raw_score, late_submission_penalty and score per notebook)")
    return 0


def _cost(args: argparse.Namespace) -> int:
    from autograder.course import cost_plan

    plan = cost_plan.estimate(args.profile, args.class_size, args.gpu, args.assignment, args.records)
    print(cost_plan.render(plan))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from autograder.course import calibrate

    if args.merge:
        measured = calibrate.merge([calibrate.from_json(path.read_text()) for path in args.merge])
    else:
        measured = calibrate.measure(args.profile, args.seeds, args.assignment, args.data_dir, args.out,
                                     args.records)
    print(calibrate.table(measured))
    if args.json:
        args.json.write_text(calibrate.to_json(measured))
    if args.write:
        for path in calibrate.write(measured):
            print(f"recorded in {path}")
    return 0


def _gpu_kit(args: argparse.Namespace) -> int:
    from autograder.gpukit import build

    if not args.data_dir:
        raise AutograderError(f"the kit carries the course's data sets: give --data-dir or set {ENV_DIR}")
    parts = build.build(args.out, Path(args.data_dir), None if args.python_version == "native" else args.python_version,
                        args.datasets or build.DATASETS, args.part_mib * build.MIB, args.bubblewrap)
    for part in parts:
        size = sum(f.stat().st_size for f in part.iterdir())
        print(f"{part}  {size / build.MIB:.1f} MiB")
    print(f"on the GPU machine, with every part beside part-01: python3 {parts[0]}/run.py --out RESULTS")
    return 0


def _data(args: argparse.Namespace) -> int:
    from coursework import datasets

    if args.data_command == "locate":
        missing = 0
        for name, find in (
            ("mnist", lambda d: datasets.load_mnist(d, download=False)),
            ("cifar10", lambda d: datasets.load_cifar10(d, download=False)),
            ("cats_and_dogs_small", datasets.cats_and_dogs_small),
        ):
            try:
                result = find(args.data_dir)
                where = result if name == "cats_and_dogs_small" else f"{len(result[0][0])} train, {len(result[1][0])} test"
                print(f"{name}: found ({where})")
            except datasets.DatasetNotFoundError as exc:
                missing += 1
                print(f"{name}: {exc}")
        return 1 if missing else 0
    if args.data_command == "fetch":
        from coursework import pretrained

        datasets.load_mnist(download=True)
        datasets.load_cifar10(download=True)
        pretrained.vgg16_base("imagenet")
        print(f"MNIST and CIFAR-10 are in {datasets.keras_cache_dir()}, VGG16's weights in "
              f"{pretrained.keras_models_dir()}")
        return 0
    out = datasets.build_cats_and_dogs_small(args.archive, args.out)
    print(f"built {out}")
    return 0


def _add_actions(commands) -> None:
    actions = commands.add_parser(
        "actions", help="GitHub Actions: job summary, annotations and the commit status from results.json files",
        description="Read every results.json under RESULTS_DIR (one per notebook job); print ::error annotations "
        "naming notebook and cell, write one Markdown summary (also to $GITHUB_STEP_SUMMARY), and the commit "
        "status (state=..., description=Points P/M, points=..., max_points=...) to --step-output.")
    actions.add_argument("results_dir", metavar="RESULTS_DIR")
    actions.add_argument("--submission", help="the student's repository, to point annotations at cells")
    actions.add_argument("--expect", nargs="+", metavar="ID", default=[],
                         help="assignments that must have results (missing ones become error rows: a red status)")
    actions.add_argument("--red-below", type=float, metavar="FRACTION",
                         help="a failure status when the score is under this fraction of the maximum")
    actions.add_argument("--step-output", metavar="FILE",
                         help="append the status as key=value lines to this file ($GITHUB_OUTPUT); default: print")
    actions.add_argument("--annotate", action="store_true", help="print ::error workflow commands")
    key = commands.add_parser(
        "job-key", help="the key a stored result of one notebook is reused under (as batch keys its jobs)",
        description="Print the digest of what a grade of SUBMISSION's notebook depends on: its folder, the grader "
        "version, the profile, seed, limits, sandbox mode and data folder. Give the options the grade will get.")
    key.add_argument("submission", metavar="SUBMISSION")
    _grading_options(key)


def _actions(args: argparse.Namespace) -> int:
    from autograder import rubric as rubrics
    from autograder.pipeline import actions, report

    available = list(rubrics.all_rubrics().values())  # no check runs here: no check's libraries to load
    graded = actions.load(Path(args.results_dir), args.expect, available)
    index = actions.rubric_index(available)
    submission = Path(args.submission) if args.submission else None
    if args.annotate:
        print("\n".join(actions.annotations(graded, index, submission)))
    titles = {r.id: r.title for r in available}
    report.write_summary(Path(args.results_dir) / "summary.md", report.markdown(graded.results, titles, graded.profile))
    lines = "".join(f"{k}={v}\n" for k, v in actions.status_line(graded, args.red_below).items())
    if args.step_output:
        with open(args.step_output, "a", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        print(lines, end="")
    return 0


def _job_key(args: argparse.Namespace) -> int:
    from autograder import rubric as rubrics
    from autograder.classrun.store import job_key

    submission = _directory(args.submission)
    if submission is None:
        return 2
    settings = _settings(args)
    names = [rubrics.find(key).name for key in args.assignment or rubrics.all_rubrics()]
    for name in names:  # one assignment: the key alone (a workflow step's output); more: "NAME KEY" lines
        key = job_key(submission, name, settings)
        print(key if len(names) == 1 else f"{name} {key}")
    return 0


def _add_collect(commands) -> None:
    collect = commands.add_parser(
        "collect", help="clone each student's repository at its last commit received by the deadline (by the "
                        "instructor's fetches and GitHub's push record) into submitted/",
        description="ROSTER is a roster CSV (with a repository URL column) or a text file of "
        "repository URLs, one a line. Writes OUT/STUDENT/ (nbgrader's submitted/ layout) with timestamp.txt, "
        "and OUT/collected.csv: the commit graded per student, or why there is none.")
    collect.add_argument("roster", metavar="ROSTER")
    collect.add_argument("--deadline", required=True, help="ISO 8601, e.g. 2025-03-01T23:59:00+01:00 (UTC if no zone)")
    collect.add_argument("--out", default="submitted", help="the submitted/ folder (default: submitted/)")
    collect.add_argument("--url-template", help="for a roster without URLs: e.g. "
                         "https://github.com/ORG/cnn-{student}.git ({student}: the roster's GitHub username)")


def _collect(args: argparse.Namespace) -> int:
    from autograder.course import collect

    rows = collect.collect(collect.read_roster(Path(args.roster), args.url_template),
                           collect.parse_deadline(args.deadline), Path(args.out))
    print(collect.table(rows))
    print(f"\nRecorded in {Path(args.out) / collect.RECORD}")
    return 0
