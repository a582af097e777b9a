"""The grader's own images as a model reads them: scaled or preprocessed, at the size the model's input fixes."""

from __future__ import annotations

from typing import Any

from autograder.errors import ArtifactError

MAX_PHOTO_SIDE = 150  # the course's photo size: a model declaring larger inputs must not size the grader's arrays


def prepared(x: Any, scale: float, preprocess: str) -> Any:
    """Images as float32 divided by ``scale``, or put through ``preprocess`` ("vgg16":
    ``keras.applications.vgg16.preprocess_input`` on 0-255 pixels); one channel made explicit."""
    import numpy as np

    x = x.astype("float32") / scale
    if preprocess == "vgg16":
        from keras.applications.vgg16 import preprocess_input

        x = np.asarray(preprocess_input(x))
    elif preprocess:
        raise ValueError(f"unknown preprocessing {preprocess!r}")
    return x[..., None] if x.ndim == 3 else x


def model_image_size(model: Any) -> tuple[int, int]:
    """The (height, width) a model's images are, where its input fixes them; the course's photo size otherwise."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4 and isinstance(shape[1], int) and isinstance(shape[2], int):
        return shape[1], shape[2]
    return MAX_PHOTO_SIDE, MAX_PHOTO_SIDE


def photo_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """``image_size``, refused where it would make the grader's arrays of photos larger than the course's."""
    if not all(0 < side <= MAX_PHOTO_SIDE for side in image_size):
        raise ArtifactError(f"the saved model takes {image_size[0]}x{image_size[1]} images; the grader "
                            f"resizes its photos to at most {MAX_PHOTO_SIDE}x{MAX_PHOTO_SIDE}")
    return image_size
