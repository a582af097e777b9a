"""Similarity at class scale: a generated class of N notebooks of one assignment compared pair by pair.

Each student's notebook is the reference's (06, the longest solution) with their own names, layer widths,
blocks and comments; each saved model is the reference architecture with weights of its own, fingerprinted
by the grader's own function; a few copies are planted. Every generated notebook varies one reference, so
many pairs are alike and shown: a worst case for the evidence step. Prints the time to fingerprint
the models (done at scoring time, once per notebook), to compare the class, and the time per pair.
Usage: python benchmarks/similarity_scale.py [--students 300]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ASSIGNMENT = "06_separable_cifar10"
NAMES = ["net", "cnn", "clf", "m", "network", "my_model", "sep", "classifier", "seq", "arch"]
COMMENTS = ["# block", "# my layers", "# TODO tune", "# separable conv", "# reduce size", "# see lecture 4"]


def student_notebook(reference: dict, rng: random.Random) -> dict:
    """The reference notebook with this student's names, widths, comments and a block more or less."""
    nb = json.loads(json.dumps(reference))
    name = rng.choice(NAMES) + str(rng.randrange(100))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or not cell["metadata"].get("nbgrader", {}).get("solution"):
            continue
        lines = "".join(cell["source"]).replace("model", name).split("\n")
        out = []
        for line in lines:
            line = re.sub(r"SeparableConv2D\((\d+)", lambda m: f"SeparableConv2D({int(m[1]) + rng.choice([0, 8, 16])}",
                          line)
            if rng.random() < 0.15:
                out.append(" " * (len(line) - len(line.lstrip())) + rng.choice(COMMENTS))
            if rng.random() < 0.05 and "add(" in line:
                continue  # a layer less
            out.append(line)
            if rng.random() < 0.05 and "add(layers.Dropout" in line:
                out.append(line.replace("Dropout(0.", "Dropout(0.0"))
        cell["source"] = "\n".join(out)
    return nb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    import keras
    import numpy as np
    from keras import layers

    from autograder import similarity
    from autograder.pipeline.fingerprint import FINGERPRINT_SUFFIX, model_fingerprint

    reference = json.loads((ROOT / "reference_solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    build = next("".join(c["source"]) for c in reference["cells"]
                 if c["metadata"].get("nbgrader", {}).get("grade_id") == "build_model")
    namespace = {"keras": keras, "layers": layers}
    exec(build, namespace)
    model = namespace["build_model"]()
    shapes = [w.shape for w in model.get_weights()]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        grading = Path(tmp)
        t0 = time.perf_counter()
        prints = []
        for i in range(args.students):
            weights = np.random.default_rng(i)
            model.set_weights([(weights.standard_normal(s) * 0.1).astype("float32") for s in shapes])
            fp = model_fingerprint(model)
            history = {"loss": list(weights.random(50)), "val_accuracy": list(weights.random(50))}
            prints.append({"version": 1, "models": {"model": fp}, "histories": {"model": history}, "errors": []})
        fingerprint_s = time.perf_counter() - t0
        for copier, source in ((1, 0), (3, 2), (5, 4)):  # planted: the same weights under another name
            prints[copier] = prints[source]
        notebooks = [student_notebook(reference, rng) for _ in range(args.students)]
        notebooks[9] = json.loads(json.dumps(notebooks[8]).replace("model", "zz_model"))  # planted: 8's code
        for i, notebook in enumerate(notebooks):
            folder = grading / f"student{i:03d}"
            folder.mkdir()
            (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(notebook))
            (folder / f"{ASSIGNMENT}.result.json").write_text("{}")
            (folder / f"{ASSIGNMENT}{FINGERPRINT_SUFFIX}").write_text(json.dumps(prints[i]))
        size = sum(p.stat().st_size for p in grading.rglob(f"*{FINGERPRINT_SUFFIX}")) / args.students
        t0, cpu0 = time.perf_counter(), time.process_time()
        found = similarity.write(grading, ROOT / ".released", [ASSIGNMENT])[0]
        compare_s, compare_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pairs = args.students * (args.students - 1) // 2
    print(f"similarity: {args.students} notebooks of {ASSIGNMENT}, {pairs:,} pairs")
    print(f"  fingerprinting the saved models (at scoring time): {fingerprint_s / args.students * 1000:.1f} ms "
          f"a notebook, {size / 1000:.0f} kB of fingerprint each")
    print(f"  comparing the class and writing the report: {compare_s:.1f} s wall ({compare_cpu:.1f} s CPU), "
          f"{compare_s / pairs * 1e6:.0f} us a pair; {len(found.pairs)} pairs shown")
    for p in found.pairs[:8]:
        print(f"    {p.score:.2f}  {p.a} and {p.b}: {'; '.join(p.reasons)}")


if __name__ == "__main__":
    main()
