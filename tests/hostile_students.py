"""The hostile students of tests/test_hostile_class.py: the warm-up's reference plus attacks, each written
where a student may write (a solution cell), and the status and message each must end with."""

from __future__ import annotations

from autograder.paths import ROOT
from tests.notebooks import cell

SECRET = "s3cr3t-token-for-the-hostile-suite"
MARKER = "hostile-suite-orphan"

# Attacks appended to the answers cell; each is wrapped so that the honest part of the notebook still runs.
ATTEMPTS = {
    "rewrites_grader": f"""
import pathlib
for target in [pathlib.Path({str(ROOT)!r}) / "autograder" / "__init__.py",
               pathlib.Path({str(ROOT)!r}) / "autograder" / "rubric" / "00_warmup.toml",
               pathlib.Path({str(ROOT)!r}) / "assignments" / "00_warmup" / "00_warmup.ipynb",
               pathlib.Path(__import__("coursework").__file__)]:
    try:
        with open(target, "a") as fh:
            fh.write("\\n# pwned\\n")
        print("WROTE", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)
""",
    "reads_others": """
import glob, os, re
found = set()
for cmdline in glob.glob("/proc/*/cmdline"):
    try:
        found |= set(re.findall(r"[^\\x00]*\\.ipynb", open(cmdline).read()))
    except OSError:
        pass
found |= set(glob.glob("/tmp/**/*.ipynb", recursive=True))
found = {p for p in found if not os.path.abspath(p).startswith(os.getcwd())}  # its own staged copy is its own
for path in found:
    try:
        open(path, "w").write("{}")
        print("OVERWROTE", path)
    except OSError as exc:
        print("refused", path, type(exc).__name__)
print("found", len(found), "notebooks")
""",
    "leaves_orphans": f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)  # {MARKER}"], start_new_session=True)
subprocess.Popen(["sh", "-c", "sleep 900; echo {MARKER}"], start_new_session=True)
""",
    "steals_secrets": f"""
import glob
for path in glob.glob("/proc/*/environ"):
    try:
        if {SECRET!r}.encode() in open(path, "rb").read():
            print("STOLE", {SECRET!r})
    except OSError:
        pass
""",
    "poisons_data": """
import os, glob, pathlib
targets = glob.glob(os.path.expanduser("~/.cache/cnn-course/**/*"), recursive=True)
targets += glob.glob(os.path.join(os.environ.get("CNN_COURSE_DATA", "/nonexistent"), "*"))
for path in targets:
    try:
        with open(path, "r+b") as fh:
            fh.write(b"poison")
        print("POISONED", path)
    except OSError:
        pass
""",
    "fills_disk": """
for i in range(1000):  # 50 MB files into its own folder, on the grader's disk, until stopped
    with open(f"junk{i}.bin", "wb") as fh:
        fh.write(b"\\1" * 50_000_000)
""",
    "many_files": """
for i in range(100_000):
    open(f"empty{i}", "w").close()
""",
    "floods_stderr": """
import os
for _ in range(200):  # 200 MB to the kernel's own stderr: the grader's kernel log
    os.write(2, b"e" * 1_000_000)
""",
    "plants_startup": """
import os, pathlib
startup = pathlib.Path(os.path.expanduser("~/.ipython/profile_default/startup"))
startup.mkdir(parents=True, exist_ok=True)
(startup / "00-break-fit.py").write_text("import keras\\nkeras.Model.fit = lambda *a, **k: None\\n")
""",
}


def attempt(*names: str):
    """The reference's answers, then each attack of ``names`` in a ``try`` of its own: attacks that should cost
    nothing share one notebook (one grading each is what makes this class slow)."""
    def edit(nb):
        for name in names:
            body = "\n".join("    " + line for line in ATTEMPTS[name].splitlines())
            cell(nb, "answers").source += \
                f"\ntry:\n{body}\nexcept Exception as exc:\n    print('attempt failed:', exc)\n"
    return edit


def replace_answers(source: str):
    def edit(nb):
        cell(nb, "answers").source = source
    return edit


def forges(nb):
    """Solves nothing, claims everything: an always-equal count, a forged history, a model it did not train."""
    cell(nb, "answers").source = (
        "class AlwaysEqual(int):\n    def __eq__(self, other):\n        return True\n"
        "PARAMS_BY_HAND = AlwaysEqual(1)\n"
        "history = {'accuracy': [1.0], 'val_accuracy': [1.0]}\n"
        "model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(1, 3), layers.Flatten(),"
        " layers.Dense(10, activation='softmax')])\n"
    )


# student -> (edit, expected status per check, expected points)
STUDENTS = {
    "aa_honest": (None, {"locked_cells": "pass", "structure": "pass", "params_by_hand": "pass",
                         "accuracy": "pass"}, 4),
    "snoops": (attempt("rewrites_grader", "reads_others", "steals_secrets", "poisons_data"), {"accuracy": "pass"}, 4),
    "plants": (attempt("leaves_orphans", "plants_startup"), {"accuracy": "pass"}, 4),
    "forges": (forges, {"params_by_hand": "fail", "accuracy": "error", "history": "fail"}, 1),  # no recipe to retrain
    "blanks_cells": (replace_answers(
        "PARAMS_BY_HAND = 0\nget_ipython().input_transformers_post.append(lambda lines: [])"),
        {"structure": "missing-artifact", "accuracy": "missing-artifact"}, 0),
    "hides_tracebacks": (replace_answers(
        "get_ipython().showtraceback = lambda *a, **k: None\n"
        "get_ipython()._showtraceback = lambda *a, **k: None\nraise RuntimeError('hidden')"),
        {"structure": "error", "accuracy": "error"}, 0),
    "exits": (replace_answers("import os\nos._exit(0)"), {"accuracy": "kernel-died"}, 0),
    "loops": (replace_answers("while True:\n    pass"), {"accuracy": "timeout"}, 0),
    "floods": (replace_answers(
        "PARAMS_BY_HAND = (3 * 3 * 1 + 1) * 16 + (4 * 4 * 16 + 1) * 32 + (32 + 1) * 10\n"
        "for i in range(300):\n    print('x' * 100_000)"), {"output_size": "fail", "accuracy": "pass"}, 4),
    "memory_bomb": (replace_answers("blocks = [bytearray(500_000_000) for _ in range(40)]"),
                    {"accuracy": "error"}, 0),
    "fork_bomb": (replace_answers(
        "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(600)\n        os._exit(0)"),
        {"accuracy": "error"}, 0),
    "fills_disk": (attempt("fills_disk"), {"accuracy": "error"}, 0),
    "many_files": (attempt("many_files"), {"accuracy": "error"}, 0),
    "floods_stderr": (attempt("floods_stderr"), {"accuracy": "pass"}, 4),
    "zz_honest": (None, {"structure": "pass", "params_by_hand": "pass", "accuracy": "pass"}, 4),
}
MESSAGES = {
    "fills_disk": "filled its folder past the limit",
    "many_files": "filled its folder past the limit",
    "memory_bomb": "memory limit",
    "fork_bomb": "processes",
    "loops": "limit",
}
