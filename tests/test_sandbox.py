"""The sandbox itself, and the lifting of a student's definitions, attack by attack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import rubric as rubrics
from autograder.errors import ArtifactError
from autograder.paths import ROOT
from autograder.pipeline.execute import _last_words
from autograder.sandbox import claim_slot
from autograder.sandbox import MAX_SLOTS, Sandbox, bwrap_problem, sandbox_for, sandbox_uid, sweep
from autograder.studentcode.hidden_cases import run_harness
from autograder.studentcode.lift import student_definitions

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
LIMITS = rubrics.find("00").profiles["smoke"].limits
HARNESS_LIMITS = LIMITS.replace({"harness_timeout": 60})
CASES = [[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 5], [["a", "b", "c"], 2, 4]]


def notebook(tmp_path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, path)
    return path


def in_sandbox(code: str, box: Sandbox) -> subprocess.CompletedProcess:
    command = box.command([sys.executable, "-c", code], Path("/tmp"))
    env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}  # as a kernel's
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=box.environment(env))


def test_lifting_keeps_definitions_and_constants_only(tmp_path):
    source = student_definitions(notebook(
        tmp_path,
        "import os\nSIZE = 3\nNAMES: list = ['a']\nos.environ['X'] = 'y'\nprint('top-level call')",
        "class Table:\n    import sys\n    sys.modules.clear()\n",
        "class Batches(keras.utils.PyDataset):\n    \"\"\"Doc.\"\"\"\n    SIZE = 2\n    print('body')\n"
        "    def __len__(self):\n        return self.SIZE\n",
        "@print\nclass Decorated:\n    pass\n",
        "class Computed(type('Base', (), {})):\n    pass\n",
        "@print\ndef decorated():\n    return 1\n",
        "def bad_default(x=__import__('os').system('true')):\n    return x\n",
        "def good(items, size=3, kind=None):\n    yield items[:size]\n",
        "%matplotlib inline\n!rm -rf /\nAUTOTUNE = os.sep",
    ))
    assert "import os" in source and "SIZE = 3" in source and "NAMES = ['a']" in source
    assert "def good" in source and "def decorated" in source and "AUTOTUNE = os.sep" in source
    assert "class Table:\n    import sys\n" in source and "class Batches(keras.utils.PyDataset):" in source
    assert "Doc." in source and "SIZE = 2" in source and "def __len__(self):" in source
    for dropped in ("print('top-level call')", "os.environ", "sys.modules.clear", "print('body')", "@print",
                    "Decorated", "Computed", "bad_default", "rm -rf"):
        assert dropped not in source, dropped
    compile(source, "lifted", "exec")


@needs_bwrap
def test_a_class_body_cannot_forge_the_harness(tmp_path):
    """The attack that once gave "passes all 4 hidden cases" for a batches() that returns None."""
    attack = notebook(tmp_path, (
        "class Forge:\n"
        "    import __main__ as h  # the harness itself: kept, but the assignment below is dropped\n"
        "    h.TASKS['generator'] = lambda *a: {'is_generator_function': True, 'cases': [], 'empty': 'ValueError'}\n"
        "def batches(items, batch_size):\n"
        "    return None\n"
    ))
    box = sandbox_for(LIMITS, [], None, claim_slot())
    facts = run_harness(attack, "generator", {"function": "batches", "cases": CASES}, HARNESS_LIMITS, box)
    assert facts["is_generator_function"] is False
    assert all("error" in case for case in facts["cases"])


@needs_bwrap
def test_a_function_body_that_patches_its_process_changes_no_fact(tmp_path):
    attack = notebook(tmp_path, (
        "def batches(items, batch_size):\n"
        "    import sys, json\n"
        "    main = sys.modules['__main__']\n"
        "    main.generator = lambda *a: {'is_generator_function': True, 'cases': [], 'empty': 'ValueError'}\n"
        "    main.TASKS['generator'] = main.generator\n"
        "    yield [0] * batch_size\n"
    ))
    facts = run_harness(attack, "generator", {"function": "batches", "cases": CASES}, HARNESS_LIMITS,
                        sandbox_for(LIMITS, [], None, claim_slot()))
    assert len(facts["cases"]) == len(CASES)  # the facts the grader gathered, not the forged ones
    assert facts["cases"][0]["got"][0] == [0, 0, 0]


@needs_bwrap
def test_the_sandbox_sees_no_grader_no_network_and_its_own_processes(tmp_path):
    result = in_sandbox(
        "import os, socket\n"
        "try:\n    import autograder\n    print('GRADER VISIBLE')\nexcept ImportError:\n    print('no grader')\n"
        "import coursework\nprint('coursework', coursework.submit.__name__)\n"
        f"print('readme', os.path.exists({str(ROOT / 'README.md')!r}))\n"
        "print('processes', len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    print('NETWORK')\n"
        "except OSError:\n    print('no network')\n",
        sandbox_for(LIMITS, [], None, claim_slot()))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "no grader" in out and "coursework submit" in out and "readme False" in out and "no network" in out
    assert int(out.split("processes ")[1].split()[0]) <= 3


@needs_bwrap
def test_a_rubric_folder_inside_a_bound_folder_stays_hidden(tmp_path, monkeypatch):
    """--rubric-dir inside a folder the sandbox binds read-only: its rubrics cannot be read, its neighbours can."""
    shared = tmp_path / "shared"
    (shared / "rubric").mkdir(parents=True)
    (shared / "rubric" / "00_warmup.toml").write_text("min_accuracy = 0.85\n")
    (shared / "neighbour.txt").write_text("seen")
    for path in (shared, shared / "rubric"):
        path.chmod(0o755)
    monkeypatch.setenv(rubrics.RUBRIC_DIR_VARIABLE, str(shared / "rubric"))
    box = Sandbox(LIMITS, readable=(shared.resolve(),), slot=claim_slot())
    result = in_sandbox(
        f"try:\n    print('LEAK', open({str(shared / 'rubric' / '00_warmup.toml')!r}).read())\n"
        "except OSError:\n    print('hidden')\n"
        f"print(open({str(shared / 'neighbour.txt')!r}).read())\n", box)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["hidden", "seen"]


@needs_bwrap
def test_memory_and_process_limits_hold(tmp_path):
    box = sandbox_for(LIMITS.replace({"memory_bytes": 500_000_000, "processes": 32}), [], None, claim_slot())
    memory = in_sandbox("try:\n    b = bytearray(2_000_000_000)\nexcept MemoryError:\n    print('refused')", box)
    assert "refused" in memory.stdout, memory.stderr
    forks = in_sandbox(
        "import os, time\nn = 0\ntry:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(60)\n"
        "            os._exit(0)\n        n += 1\nexcept OSError:\n    print('stopped after', n)", box)
    assert "stopped after" in forks.stdout and int(forks.stdout.split()[-1]) < 32, forks.stdout + forks.stderr


@pytest.mark.skipif(not list(Path("/dev").glob("nvidia[0-9]*")), reason="no NVIDIA GPU on this machine")
def test_the_kernel_still_sees_its_gpu():
    result = in_sandbox("import tensorflow as tf\nprint('gpus', len(tf.config.list_physical_devices('GPU')))",
                        sandbox_for(LIMITS, [], None, claim_slot()))
    assert "gpus 0" not in result.stdout and "gpus" in result.stdout, result.stdout + result.stderr[-2000:]


def test_a_dead_kernels_last_words_skip_start_up_chatter(tmp_path):
    log = tmp_path / "kernel.log"
    log.write_text(
        "Killed: out of memory in a thread\n"
        "NOTE: When using the `ipython kernel` entry point, Ctrl-C will not work.\n"
        "To exit, you will have to explicitly quit this process, by either sending\n"
        "\"quit\" from a client, or using Ctrl-\\ in UNIX-like environments.\n"
        "To read more about this, see https://github.com/ipython/ipython/issues/2049\n"
        "To connect another client to this kernel, use:\n    --existing /tmp/kernel.json\n"
        "/venv/lib/python3.11/site-packages/jupyter_client/session.py:203: DeprecationWarning: datetime.utcnow()\n"
        "  warnings.warn(\n"
    )
    assert _last_words(log) == "Killed: out of memory in a thread"


def test_a_grader_without_a_slot_claims_one_no_other_grader_gets(tmp_path):
    """`grade` of one submission and a class run beside it must not run student code as the same user
    (a shared process budget, and each sweeps its own user's leftovers when a notebook ends)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom autograder.grading import GradingSettings\n"
                               "print(GradingSettings().job_slot(), flush=True)\ntime.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        held = int(holder.stdout.readline())
        other = subprocess.run([sys.executable, "-c", "from autograder.sandbox import claim_slot\n"
                                                      "print(claim_slot())"],
                               cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert int(other.stdout) != held, other.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(sandbox_uid() is None, reason="sandbox users exist only for a grader running as root")
def test_sweep_kills_its_slots_user_and_no_other():
    mine, other = MAX_SLOTS - 2, MAX_SLOTS - 1  # slots no job of this test worker takes meanwhile
    sleepers = {slot: subprocess.Popen(["setpriv", f"--reuid={sandbox_uid(slot)}", f"--regid={sandbox_uid(slot)}",
                                        "--clear-groups", "sleep", "60"]) for slot in (mine, other)}
    try:
        time.sleep(0.5)
        sweep(mine)
        assert sleepers[mine].wait(timeout=10) == -signal.SIGKILL
        assert sleepers[other].poll() is None
    finally:
        for process in sleepers.values():
            process.kill()
            process.wait()


@needs_bwrap
def test_matplotlib_reads_the_graders_font_list_and_cannot_change_it(tmp_path):
    """Every kernel and harness imports matplotlib (Keras does): in a fresh home it would scan the fonts again
    (0.2 s a process, and a Fontconfig error on stderr). The sandbox binds the grader's font list read-only."""
    result = in_sandbox(
        "import os, matplotlib\nfrom matplotlib import font_manager as fm\n"
        "path = os.path.join(matplotlib.get_configdir(), f'fontlist-v{fm.FontManager.__version__}.json')\n"
        "print('fonts', len(fm.fontManager.ttflist))\n"
        "try:\n    open(path, 'a').close()\n    print('WRITABLE')\nexcept OSError:\n    print('read-only')\n",
        sandbox_for(LIMITS, [], None, claim_slot()))
    assert result.returncode == 0, result.stderr
    assert "read-only" in result.stdout and int(result.stdout.split("fonts ")[1].split()[0]) > 0
    assert "Fontconfig" not in result.stderr and "font" not in result.stderr.lower(), result.stderr


@needs_bwrap
def test_the_sandbox_holds_the_training_splits_only(tmp_path, data_dir):
    """Given the course data through a symlink and `..`, the kernel's $CNN_COURSE_DATA is the path the sandbox
    binds (the training-only view), where every loader works and no test split exists; scikit-learn's
    digits are the 1,437 training ones, and neither the data folder nor the grader's caches are there."""
    from autograder.student_data import student_view
    from coursework import datasets

    (tmp_path / "link").symlink_to(data_dir.resolve(), target_is_directory=True)
    (tmp_path / "up").mkdir()
    view = student_view(str(tmp_path / "up" / ".." / "link"))
    assert view == student_view(str(data_dir))  # the same sources: the same view
    hidden = [str(data_dir.resolve()), str(datasets.subset_cache_dir()), str(datasets.keras_cache_dir())]
    result = in_sandbox(
        "import os, numpy as np\n"
        "from sklearn.datasets import load_digits\n"
        "from coursework import datasets\n"
        "data = os.environ['CNN_COURSE_DATA']\n"
        "print('data', data)\n"
        "print('mnist', sorted(np.load(data + '/mnist.npz').files), sorted(np.load(data + '/cifar10.npz').files))\n"
        "print('photos', sorted(os.listdir(data + '/cats_and_dogs_small')))\n"
        "print('digits', len(load_digits().target))\n"
        "(x, _), (xv, _) = datasets.training_split('mnist', 100, 500)\n"
        "print('split', len(x), len(xv))\n"
        "try:\n    datasets.load_mnist()\nexcept datasets.HeldOutError as exc:\n    print('refused', exc)\n"
        f"print('seen', [p for p in {hidden!r} if os.path.exists(p)])\n",
        sandbox_for(LIMITS, [], view, claim_slot()))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"data {view}\n" in out and view == view.resolve()
    assert "mnist ['x_train', 'y_train'] ['x_train', 'y_train']" in out
    assert "photos ['train', 'validation']" in out and "digits 1437" in out and "split 500 100" in out
    assert "refused The test split of mnist is held out" in out and "seen []" in out


def test_what_the_students_functions_write_back_is_capped_by_the_limits(tmp_path):
    """limits.toml's harness_output_bytes: past it the check is an error, and nothing is read."""
    attack = notebook(tmp_path, "def batches(items, batch_size):\n    yield [0] * 100_000\n")
    with pytest.raises(ArtifactError, match="your functions returned more than 1,000 bytes"):
        run_harness(attack, "generator", {"function": "batches", "cases": CASES},
                    HARNESS_LIMITS.replace({"harness_output_bytes": 1_000}))
