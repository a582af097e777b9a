"""Command line: ``python -m autograder COMMAND``.

Heavy frameworks are imported by the commands that need them, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 32,32,3, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Autograder for the convolutional-networks coursework.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect",
        help="print every layer's output shape, parameters, receptive field and jump",
        description="Describe a model layer by layer. PATH is a .keras file or a Python file defining build_model().",
    )
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument(
        "--input-shape",
        type=_shape,
        help="input shape without the batch axis: H,W,C for Keras, C,H,W for PyTorch",
    )
    inspect.add_argument("--json", action="store_true", help="print a JSON list, one object per layer")

    data = commands.add_parser("data", help="find, fetch or build the course's data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    locate = data_commands.add_parser("locate", help="say where each data set is found")
    locate.add_argument("--data-dir", help="a folder to search first")
    data_commands.add_parser("fetch", help="download MNIST and CIFAR-10 into Keras's cache (needs a network)")
    build = data_commands.add_parser("cats-and-dogs", help="build dogs-vs-cats small from Kaggle's train.zip")
    build.add_argument("--archive", required=True, help="Kaggle's Dogs vs. Cats train.zip, or its extracted folder")
    build.add_argument("--out", required=True, help="the folder to create (name it cats_and_dogs_small)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.command == "inspect":
            from autograder import inspection

            print(inspection.run(args.path, args.input_shape, args.json))
        elif args.command == "data":
            return _data(args)
    except Exception as exc:  # a clear one-line error, not a traceback, for expected failures
        from autograder.datasets import DatasetNotFoundError
        from autograder.inspection import ModelLoadError
        from autograder.modelspec import DescriptionError

        if isinstance(exc, (DatasetNotFoundError, ModelLoadError, DescriptionError)):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


def _data(args: argparse.Namespace) -> int:
    from autograder import datasets

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
        datasets.load_mnist(download=True)
        datasets.load_cifar10(download=True)
        print(f"MNIST and CIFAR-10 are in {datasets.keras_cache_dir()}")
        return 0
    out = datasets.build_cats_and_dogs_small(args.archive, args.out)
    print(f"built {out}")
    return 0
