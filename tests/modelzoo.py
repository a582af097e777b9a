"""Small Keras and PyTorch models used across the tests (built, untrained)."""

from __future__ import annotations


LENET5_COUNTS = {"conv1": 156, "conv2": 2416, "fc1": 48120, "fc2": 10164, "fc3": 850, "total": 61706}  # 03's


def keras_lenet5(padding: str = "same", pool: str = "MaxPooling2D", compiled: bool = False):
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(6, 5, padding=padding, activation="relu", name="conv1"),
            getattr(layers, pool)(2, name="pool1"),
            layers.Conv2D(16, 5, activation="relu", name="conv2"),
            getattr(layers, pool)(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(120, activation="relu", name="fc1"),
            layers.Dense(84, activation="relu", name="fc2"),
            layers.Dense(10, activation="softmax", name="fc3"),
        ],
        name="lenet5",
    )
    if compiled:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def torch_lenet5():
    import torch
    from torch import nn

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.pool1 = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.pool2 = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(400, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool1(torch.relu(self.conv1(x)))
            x = self.pool2(torch.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))

    return LeNet5()


def keras_zoo():
    """Models covering every layer kind the inspector computes, for cross-checks."""
    import keras
    from keras import layers

    models = {"lenet5_same": keras_lenet5("same"), "lenet5_valid": keras_lenet5("valid")}

    models["separable"] = keras.Sequential(
        [
            keras.Input((33, 31, 3)),
            layers.SeparableConv2D(16, 3, padding="same", depth_multiplier=2),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.SeparableConv2D(24, 3, strides=2, padding="same", use_bias=False),
            layers.DepthwiseConv2D(5, padding="valid", depth_multiplier=3),
            layers.Conv2D(12, 3, dilation_rate=2, padding="same"),
            layers.AveragePooling2D(3, strides=2, padding="same"),
            layers.Dropout(0.25),
            layers.SpatialDropout2D(0.1),
            layers.Conv2D(8, (1, 3), strides=(1, 2), groups=4, padding="valid"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10),
        ]
    )

    inp = keras.Input((30, 30, 4))
    x = layers.ZeroPadding2D(((1, 2), (3, 0)))(inp)
    x = layers.Cropping2D(((2, 1), (1, 1)))(x)
    x = layers.Rescaling(1 / 255)(x)
    a = layers.Conv2D(8, 3, padding="same")(x)
    b = layers.Conv2D(8, 5, padding="same")(x)
    c = layers.Concatenate()([a, b])
    d = layers.Conv2D(16, 1)(c)
    e = layers.Add()([c, d])
    f = layers.Multiply()([e, e])
    g = layers.UpSampling2D(2)(f)
    h = layers.Resizing(20, 24)(g)
    i = layers.MaxPooling2D(3, strides=2, padding="same")(h)
    j = layers.LayerNormalization()(i)
    k = layers.GlobalMaxPooling2D(keepdims=True)(j)
    out = layers.Dense(3)(layers.Dense(5)(k))  # Dense on a 1x1 feature map
    models["multipath"] = keras.Model(inp, out)

    inp = keras.Input((32, 32, 3))
    x = layers.RandomFlip("horizontal")(inp)
    x = layers.RandomRotation(0.1)(x)
    x = layers.RandomTranslation(0.1, 0.1)(x)
    x = layers.RandomZoom(0.1)(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    shortcut = layers.Conv2D(16, 1, strides=2)(x)
    y = layers.Conv2D(16, 3, strides=2, padding="same")(x)
    y = layers.BatchNormalization(center=False)(y)
    y = layers.Add()([y, shortcut])
    y = layers.Reshape((8 * 8 * 16,))(y)
    models["residual"] = keras.Model(inp, layers.Dense(2)(y))
    return models
