"""06 in the smoke profile: correct networks with default BatchNormalization, evaluated as saved and settled.

Trains each variant of tests/separable_variants.py as notebook 06's training cell does (4,000 images, 3 epochs,
best epoch kept) and prints its validation accuracy on the grader's 1,000 images, as saved and after
:func:`autograder.scoring.settle.settled`. Run: python benchmarks/smoke_batchnorm.py [SEED]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import keras
import numpy as np
from keras import layers

from autograder.scoring.settle import settled
from coursework.datasets import training_split
from tests.separable_variants import VARIANTS


def train(model, x, y, xv, yv, epochs: int = 3):
    steps = epochs * -(-len(x) // 128)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = os.path.join(tempfile.mkdtemp(), "best.weights.h5")
    best = keras.callbacks.ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True, save_weights_only=True)
    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=128, callbacks=[best], verbose=0)
    model.load_weights(path)
    return model


def accuracy(model, x, y) -> float:
    return float((model.predict(x, batch_size=256, verbose=0).argmax(1) == y.reshape(-1)).mean())


def main(seed: int = 0) -> None:
    keras.utils.set_random_seed(seed)
    (x, y), (xv, yv) = training_split("cifar10", 1000, 4000, seed=0)
    x, xv = x.astype("float32") / 255, xv.astype("float32") / 255
    (xs, _), _ = training_split("cifar10", 10, 2000, seed=1)
    xs = xs.astype("float32") / 255
    for name, source in VARIANTS.items():
        scope = {"keras": keras, "layers": layers}
        exec(source, scope)
        model = scope["build_model"]()
        t0 = time.perf_counter()
        train(model, x, y, xv, yv)
        t1 = time.perf_counter()
        as_saved = accuracy(model, xv, yv)
        t2 = time.perf_counter()
        fixed = accuracy(settled(model, xs), xv, yv)
        t3 = time.perf_counter()
        print(f"{name:22s} params {model.count_params():6,d}  as saved {as_saved:.4f}  settled {fixed:.4f}  "
              f"train {t1 - t0:5.1f} s  settle+eval {t3 - t2:4.1f} s", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
