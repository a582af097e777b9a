"""The course's figures: small functions the notebooks call to draw what a lesson is about.

Every function draws with matplotlib on a figure of its own (no global pyplot state, any backend),
shows it as a PNG with an alt text that says in words what the figure shows (in the output's
``metadata["image/png"]["alt"]``, as Jupyter and the feedback page read it), and returns the
numbers it drew, so that a notebook can print or test them. Nothing here imports the grader.
"""

from __future__ import annotations

import io
import math

__all__ = [
    "layer_signal",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_receptive_fields",
    "plot_receptive_field_on_image",
    "plot_signal",
    "plot_variance_gain",
    "receptive_fields",
    "show_images",
    "variance_gains",
]


def _never_fails(function):
    """A figure is a teaching aid: if it cannot be drawn, say why and let the notebook go on to submit."""
    import functools

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - a figure never stops a notebook
            print(f"(figure not drawn: {type(error).__name__}: {error})")
            return None

    return guarded


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=80)
    FigureCanvasAgg(figure)
    return figure


def show(figure, alt: str) -> None:
    """Display ``figure`` as a PNG whose alt text is ``alt`` (printed instead where no notebook displays it)."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:  # plain Python: say what would have been drawn
        print(f"[figure] {alt}")
        return
    if get_ipython() is None:
        print(f"[figure] {alt}")
        return
    display(Image(data=buffer.getvalue(), format="png", alt=alt))


def _series(history) -> dict[str, list[float]]:
    """A Keras ``History``, its ``.history`` dict, or a dict of lists: the metrics by name."""
    data = getattr(history, "history", history) or {}
    return {name: [float(v) for v in values] for name, values in data.items()}


def _span(values) -> str:
    return f"from {values[0]:.2f} to {values[-1]:.2f}" if values else "not recorded"


@_never_fails
def plot_history(histories, title: str, metric: str = "accuracy") -> dict:
    """Learning curves: ``metric`` and the loss, training against validation, one row per history.

    ``histories``: one history (a ``History`` or a dict of lists) or a dict ``{name: history}`` drawn
    side by side. Returns the curves drawn, by name.
    """
    if hasattr(histories, "history") or (isinstance(histories, dict) and "loss" in histories):
        histories = {"": histories}
    curves = {name: _series(h) for name, h in histories.items()}
    figure = _figure(5.5 * len(curves), 3.6)
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    sentences = []
    for axis, (name, series) in zip(axes, curves.items()):
        epochs = range(1, 1 + max((len(v) for v in series.values()), default=0))
        for key, label, style in ((metric, "training", "-o"), (f"val_{metric}", "validation", "-s")):
            if series.get(key):
                axis.plot(list(epochs)[:len(series[key])], series[key], style, label=f"{label} {metric}", markersize=3)
        axis.set_xlabel("epoch")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_ylabel(metric)
        axis.set_title(f"{title}: {name}" if name else title)
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize="small")
        sentences.append(f"{name + ': ' if name else ''}training {metric} {_span(series.get(metric, []))}, "
                         f"validation {metric} {_span(series.get(f'val_{metric}', []))} over {len(epochs)} epochs")
    show(figure, f"Learning curves, {title}. " + "; ".join(sentences) + ".")
    return curves


@_never_fails
def show_images(images, labels, title: str, class_names=None, count: int = 8) -> None:
    """The first ``count`` images of a batch, each titled with its label (its class name where given)."""
    import numpy as np

    images = np.asarray(images)[:count]
    labels = np.asarray(labels).reshape(len(np.asarray(labels)), -1)[:count, 0]
    names = [class_names[int(v)] if class_names is not None else str(v) for v in labels]
    columns = min(count, len(images))
    figure = _figure(1.6 * columns, 2.0)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    for axis, image, name in zip(axes, images, names):
        shown = image[..., 0] if image.shape[-1] == 1 else image
        axis.imshow(np.clip(shown, 0, 1) if shown.max() <= 1 else shown.astype("uint8"), cmap="gray")
        axis.set_title(name, fontsize="small")
        axis.axis("off")
    figure.suptitle(title)
    show(figure, f"{title}: {len(images)} images labelled, left to right, " + ", ".join(names) + ".")


@_never_fails
def plot_filters(kernel, title: str) -> None:
    """The filters of one convolution's ``kernel`` (k, k, c_in, f), each one's first input channel in grey."""
    import numpy as np

    kernel = np.asarray(kernel)
    count = kernel.shape[-1]
    figure = _figure(1.3 * count, 1.8)
    axes = figure.subplots(1, count, squeeze=False)[0]
    for i, axis in enumerate(axes):
        axis.imshow(kernel[:, :, 0, i], cmap="gray")
        axis.set_title(f"filter {i + 1}", fontsize="small")
        axis.axis("off")
    figure.suptitle(title)
    show(figure, f"{title}: {count} filters of {kernel.shape[0]}x{kernel.shape[1]} weights drawn as grey squares, "
                 "light for positive weights and dark for negative ones.")


@_never_fails
def plot_feature_maps(model, image, layer_name: str, title: str, count: int = 8, shown=None) -> None:
    """The input ``image`` (h, w, c) and the first ``count`` feature maps of layer ``layer_name`` for it.

    ``shown``: what to draw as the input (the image before a preprocessing the model expects), else ``image``.
    """
    import keras
    import numpy as np

    probe = keras.Model(_single(model.inputs), model.get_layer(layer_name).output)
    maps = keras.ops.convert_to_numpy(probe(np.asarray(image)[None], training=False))[0]
    count = min(count, maps.shape[-1])
    figure = _figure(1.5 * (count + 1), 1.9)
    axes = figure.subplots(1, count + 1, squeeze=False)[0]
    shown = np.asarray(image if shown is None else shown)
    axes[0].imshow(shown[..., 0] if shown.shape[-1] == 1 else np.clip(shown, 0, 1), cmap="gray")
    axes[0].set_title("input", fontsize="small")
    for i in range(count):
        axes[i + 1].imshow(maps[:, :, i], cmap="viridis")
        axes[i + 1].set_title(f"map {i + 1}", fontsize="small")
    for axis in axes:
        axis.axis("off")
    figure.suptitle(title)
    show(figure, f"{title}: the input image of {shown.shape[0]}x{shown.shape[1]} pixels, then {count} of the "
                 f"{maps.shape[-1]} feature maps of layer {layer_name}, each {maps.shape[0]}x{maps.shape[1]}, "
                 "bright where the filter responds strongly.")


def _single(inputs):
    """A model's one input as itself (calling a model built on a list of one input with a tensor warns)."""
    return inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs


def _weighted(model):
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


def _signal_layers(model):
    """The layers whose output is the signal between weighted layers: activations, and convolutions with one."""
    chosen = []
    for layer in model.layers:
        kind = type(layer).__name__
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        if kind == "Activation" or (kind.endswith("Conv2D") and activation != "linear"):
            chosen.append(layer)
    return chosen


def _gradients(model, x, y):
    """The root mean square of the loss's gradient for each weighted layer's kernel (None where unsupported)."""
    import keras
    import numpy as np

    kernels = [layer.kernel for layer in _weighted(model)]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, [k.value for k in kernels])
    elif backend == "torch":
        import torch

        model.zero_grad()
        loss = loss_fn(torch.as_tensor(y), model(x, training=True))
        loss.backward()
        grads = [k.value.grad for k in kernels]
    else:
        return None
    return [float(np.sqrt(np.mean(np.square(keras.ops.convert_to_numpy(g))))) if g is not None else 0.0
            for g in grads]


def layer_signal(model, x, y) -> dict:
    """For one batch: the standard deviation of each signal layer's output and the gradient size per weighted layer."""
    import keras
    import numpy as np

    probe = keras.Model(_single(model.inputs), [layer.output for layer in _signal_layers(model)])
    outputs = probe(x, training=True)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {"activation_std": [float(np.std(keras.ops.convert_to_numpy(o))) for o in outputs],
            "gradient_rms": _gradients(model, x, y)}


@_never_fails
def plot_signal(models: dict, x, y, title: str) -> dict:
    """Activation and gradient size, layer by layer, of each of ``models`` (freshly built) on one batch."""
    stats = {name: layer_signal(model, x, y) for name, model in models.items()}
    panels = [("activation_std", "std of the layer's output")]
    if all(s["gradient_rms"] is not None for s in stats.values()):
        panels.append(("gradient_rms", "RMS of the kernel's gradient"))
    figure = _figure(5.5 * len(panels), 3.8)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (key, label) in zip(axes, panels):
        for name, s in stats.items():
            axis.plot(range(1, len(s[key]) + 1), [max(v, 1e-30) for v in s[key]], "-o", markersize=3, label=name)
        axis.set_yscale("log")
        axis.set_xlabel("layer, from input to output")
        axis.set_ylabel(label + " (log scale)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(title)
    parts = []
    for name, s in stats.items():
        part = f"{name}: output std {s['activation_std'][0]:.2g} at the first layer, {s['activation_std'][-1]:.2g} at the last"
        if s["gradient_rms"]:
            part += f", gradient {s['gradient_rms'][0]:.2g} at the first layer, {s['gradient_rms'][-1]:.2g} at the last"
        parts.append(part)
    show(figure, f"{title}, on a logarithmic scale. " + "; ".join(parts) + ".")
    return stats


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def receptive_fields(model, image_size: int) -> list[dict]:
    """Output size ``n``, jump ``j`` and receptive field ``r`` after every layer of a Sequential ``model``.

    The course's recurrences: n_out = floor((n_in + 2p - k) / s) + 1, j_out = j_in * s,
    r_out = r_in + (k - 1) * j_in (k the dilated kernel); Flatten, Dense and global pooling see the whole
    last map: r_out = r_in + (n_in - 1) * j_in, which exceeds the image where the field counts zero padding.
    ``start``: the image column (and row) where the field of the layer's first output begins, negative where
    it begins in the padding (start_out = start_in - p_left * j_in, Keras's 'same' putting the odd pixel right).
    """
    n, j, r, start, rows = image_size, 1, 1, 0, []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind.endswith("Conv2D") or "Pool" in kind and not kind.startswith("Global"):
            k = _pair(getattr(layer, "kernel_size", None) or layer.pool_size)[0]
            s = _pair(layer.strides)[0] if getattr(layer, "strides", None) else k
            d = _pair(getattr(layer, "dilation_rate", 1))[0]
            k = d * (k - 1) + 1
            n_in, n = n, math.ceil(n / s) if layer.padding == "same" else (n - k) // s + 1
            left = max((n - 1) * s + k - n_in, 0) // 2 if layer.padding == "same" else 0
            r, j, start = r + (k - 1) * j, j * s, start - left * j
        elif kind.startswith("Global") or kind in ("Flatten", "Dense"):
            if n > 1:
                r, n = r + (n - 1) * j, 1
        else:
            continue
        rows.append({"layer": layer.name, "kind": kind, "n": n, "j": j, "r": r, "start": start})
    return rows


@_never_fails
def plot_receptive_fields(model, image_size: int, title: str) -> list[dict]:
    """The receptive field and the output size after each layer that changes them, against the image size."""
    rows = receptive_fields(model, image_size)
    figure = _figure(max(6.0, 0.45 * len(rows)), 4.0)
    axis = figure.subplots()
    x = range(len(rows))
    axis.plot(x, [row["r"] for row in rows], "-o", markersize=4, label="receptive field r (pixels)")
    axis.plot(x, [row["n"] for row in rows], "-s", markersize=4, label="output size n (pixels)")
    axis.axhline(image_size, color="grey", linestyle="--", label=f"image size ({image_size})")
    axis.set_xticks(list(x))
    axis.set_xticklabels([row["layer"] for row in rows], rotation=60, ha="right", fontsize="x-small")
    axis.set_ylabel("pixels")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    axis.set_title(title)
    first_whole = next((row["layer"] for row in rows if row["r"] >= image_size), None)
    show(figure, f"{title}: receptive field and output size after each of {len(rows)} layers. The field grows "
                 f"from {rows[0]['r'] if rows else 0} to {rows[-1]['r'] if rows else 0} pixels while the output "
                 f"shrinks from {rows[0]['n'] if rows else 0} to {rows[-1]['n'] if rows else 0}; "
                 + (f"it first covers the whole {image_size}-pixel image at {first_whole}." if first_whole
                    else f"it never covers the whole {image_size}-pixel image."))
    return rows


def _last_map(model, image_size: int) -> dict:
    """The receptive-field row of the last layer that still has a spatial map (before global pooling or Flatten)."""
    rows = [row for row in receptive_fields(model, image_size)
            if not (row["kind"].startswith("Global") or row["kind"] in ("Flatten", "Dense"))]
    if not rows:
        raise ValueError("the model has no convolution or pooling layer")
    return rows[-1]


def _field_box(axis, low: int, size: int, color: str, label: str) -> None:
    from matplotlib.patches import Rectangle

    axis.add_patch(Rectangle((low, low), size, size, fill=False, edgecolor=color, linewidth=2, label=label, zorder=2))
    axis.plot([low + size / 2], [low + size / 2], "+", color=color, markersize=10, zorder=2)


@_never_fails
def plot_receptive_field_on_image(model, image, title: str) -> dict:
    """The receptive field of two output pixels of the model's last spatial map, drawn on ``image`` (h, w, c).

    The field, its jump and where it starts come from the model's own layers (:func:`receptive_fields`).
    Whatever part of a field lies outside the image is zero padding, drawn hatched: a field larger than the
    image covers all of it and some padding. Returns the layer, its map size and each pixel's field.
    """
    import numpy as np

    image = np.asarray(image)
    size = image.shape[0]
    row = _last_map(model, size)
    pixels = {"corner": 0, "centre": (row["n"] - 1) // 2}
    fields = {name: (row["start"] + i * row["j"], row["start"] + i * row["j"] + row["r"]) for name, i in pixels.items()}
    low = min(0, *(a for a, _ in fields.values())) - 1
    high = max(size, *(b for _, b in fields.values())) + 1
    figure = _figure(5.5, 5.5)
    axis = figure.subplots()
    axis.set_facecolor("white")
    from matplotlib.patches import Rectangle

    axis.add_patch(Rectangle((low, low), high - low, high - low, facecolor="whitesmoke", hatch="//",
                             edgecolor="darkgrey", linewidth=0, zorder=0, label="zero padding (outside the image)"))
    axis.imshow(np.clip(image, 0, 1), extent=(0, size, size, 0), zorder=1)
    for (name, i), color in zip(pixels.items(), ("tab:red", "tab:blue")):
        _field_box(axis, fields[name][0], row["r"], color, f"{name} output pixel ({i}, {i}): {row['r']}x{row['r']}")
    axis.set_xlim(low, high)
    axis.set_ylim(high, low)
    axis.set_xlabel("image column (pixels; negative or past the image: padding)")
    axis.set_ylabel("image row")
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize="small")
    axis.set_title(f"{title}\nlayer {row['layer']}, a {row['n']}x{row['n']} map", fontsize="small", pad=60)
    parts = [f"the {name} output pixel ({i}, {i}) sees rows and columns {fields[name][0]} to {fields[name][1] - 1}, "
             f"{_outside(*fields[name], size)} of its {row['r']} lie outside the image, in the padding"
             for name, i in pixels.items()]
    show(figure, f"{title}: an input image of {size}x{size} pixels with the receptive fields of two output pixels "
                 f"of layer {row['layer']} ({row['n']}x{row['n']} map, jump {row['j']}) drawn as squares; "
                 + "; ".join(parts) + ".")
    return {"layer": row["layer"], "n": row["n"], "j": row["j"], "r": row["r"], "fields": fields}


def _outside(low: int, high: int, size: int) -> int:
    """How many of the field's columns ``low`` to ``high - 1`` fall outside an image of ``size`` columns."""
    return max(0, -low) + max(0, high - size)


def variance_gains(stds) -> list[float]:
    """The factor by which each layer multiplies the variance of the signal it receives: (std_l / std_l-1)²."""
    return [(b / a) ** 2 if a > 0 else float("nan") for a, b in zip(stds, stds[1:])]


@_never_fails
def plot_variance_gain(stats: dict, predicted: dict, title: str) -> dict:
    """The measured variance gain of each layer, from :func:`plot_signal`'s ``stats`` (one curve per network),
    against the gains ``predicted`` (``{label: gain}``, drawn as dashed lines). Returns the gains drawn."""
    import statistics

    gains = {name: variance_gains(s["activation_std"]) for name, s in stats.items()}
    figure = _figure(6.5, 3.8)
    axis = figure.subplots()
    for name, values in gains.items():
        axis.plot(range(2, len(values) + 2), [max(v, 1e-30) for v in values], "-o", markersize=3, label=name)
    for label, gain in predicted.items():
        axis.axhline(gain, color="grey", linestyle="--", linewidth=1)
        axis.annotate(f"{label}: {gain:.2g}", (1.0, gain), xycoords=("axes fraction", "data"), ha="right",
                      va="bottom", fontsize="small", color="dimgrey")
    axis.set_yscale("log")
    axis.set_xlabel("layer, from input to output")
    axis.set_ylabel("variance of the output / of the input (log)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    axis.set_title(title)
    medians = "; ".join(f"{name}: median gain {statistics.median(v):.2g}" for name, v in gains.items() if v)
    expected = "; ".join(f"{label}: {gain:.2g}" for label, gain in predicted.items())
    show(figure, f"{title}, on a logarithmic scale: how much each layer multiplies the variance it receives. "
                 f"{medians}. Dashed lines: the gains predicted, {expected}.")
    return gains
