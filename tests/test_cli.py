"""`python -m autograder inspect` and `data`, through the real command line."""

import json
import os
import subprocess
import sys

from autograder.paths import ROOT


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=300,
    )


def test_help_answers_without_importing_frameworks():
    code = "import sys, autograder.cli as c; c.build_parser(); print('tensorflow' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]
    assert "inspect" in run("--help").stdout


def test_inspect_a_saved_keras_model_as_json(tmp_path):
    from tests.modelzoo import keras_lenet5

    path = tmp_path / "lenet.keras"
    keras_lenet5("same").save(path)
    result = run("inspect", str(path), "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert {"name", "kind", "output_shape", "params", "trainable_params", "rf", "jump"} <= set(records[0])
    assert sum(r["params"] for r in records) == 61_706
    assert [r["rf"] for r in records if r["kind"] in ("conv", "pool")] == [5, 6, 14, 16]
    assert [r["jump"] for r in records if r["kind"] in ("conv", "pool")] == [1, 2, 2, 4]


def test_inspect_a_python_file_with_torch_input_shape(tmp_path):
    source = tmp_path / "net.py"
    source.write_text(
        "from tests.modelzoo import torch_lenet5\nINPUT_SHAPE = (1, 28, 28)\n"
        "def build_model():\n    return torch_lenet5()\n"
    )
    result = run("inspect", str(source), env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "Total params: 61,706" in result.stdout
    assert "conv2" in result.stdout and "RF" in result.stdout


def test_inspect_reports_bad_paths_clearly(tmp_path):
    missing = run("inspect", str(tmp_path / "nope.keras"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    result = run("inspect", str(empty))
    assert result.returncode == 2 and "build_model" in result.stderr


def test_data_locate_names_missing_sets(tmp_path):
    env = {"CNN_COURSE_DATA": str(tmp_path), "KERAS_HOME": str(tmp_path / "k"), "CNN_COURSE_OFFLINE": "1"}
    result = run("data", "locate", env=env)
    assert result.returncode == 1
    assert result.stdout.count("not found") == 3


def test_inspect_gives_one_clear_line_when_a_model_cannot_be_built(tmp_path):
    for name, source, reason in (
        ("keras_net.py", "import keras\ndef build_model():\n"
                         "    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 7)])\n",
         "Computed output size would be zero or negative"),
        ("torch_net.py", "import torch\nINPUT_SHAPE = (1, 4, 4)\n"
                         "def build_model():\n    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 7))\n",
         "Kernel size can't be greater than actual input size"),
    ):
        (tmp_path / name).write_text(source)
        proc = subprocess.run([sys.executable, "-m", "autograder", "inspect", str(tmp_path / name)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        # one line of ours, after whatever TensorFlow's C++ logging prints as it loads (CPU-dependent)
        assert "Traceback" not in proc.stderr and proc.stderr.splitlines()[-1].startswith("error: "), proc.stderr
        assert reason in proc.stderr
