"""Correct 06 networks written differently from the reference, as students write them (solution cell text).

Each is annotated, has fewer than 100,000 parameters and no plain Conv2D: the smoke profile must not fail one.
"""

DEFAULT_BN_FLATTEN = '''def build_model():
    model = keras.Sequential([keras.Input((32, 32, 3))])
    model.add(layers.SeparableConv2D(32, 3, padding="same", activation="relu"))  # out: 32x32x32  RF: 3
    model.add(layers.BatchNormalization())
    model.add(layers.SeparableConv2D(64, 3, padding="same", activation="relu"))  # out: 32x32x64  RF: 5
    model.add(layers.BatchNormalization())
    model.add(layers.MaxPooling2D(2))  # out: 16x16x64  RF: 6
    model.add(layers.Dropout(0.2))
    model.add(layers.SeparableConv2D(96, 3, padding="same", activation="relu"))  # out: 16x16x96  RF: 10
    model.add(layers.BatchNormalization())
    model.add(layers.MaxPooling2D(2))  # out: 8x8x96  RF: 12
    model.add(layers.SeparableConv2D(128, 3, padding="same", activation="relu"))  # out: 8x8x128  RF: 20
    model.add(layers.BatchNormalization())
    model.add(layers.MaxPooling2D(2))  # out: 4x4x128  RF: 24
    model.add(layers.Dropout(0.3))
    model.add(layers.Flatten())  # out: 2048  RF: 32
    model.add(layers.Dense(10, activation="softmax"))  # out: 10  RF: 32
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

BN_BEFORE_RELU_GAP = '''def build_model():
    inputs = keras.Input((32, 32, 3))
    x = inputs
    # out: 32x32x32  RF: 3
    x = layers.SeparableConvolution2D(32, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(64, 3, padding="same", use_bias=False)(x)  # out: 32x32x64  RF: 5
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)  # out: 16x16x64  RF: 6
    x = layers.SeparableConv2D(128, 3, padding="same", use_bias=False)(x)  # out: 16x16x128  RF: 10
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)  # out: 8x8x128  RF: 12
    x = layers.SeparableConv2D(192, 3, padding="same", use_bias=False)(x)  # out: 8x8x192  RF: 20
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.GlobalAveragePooling2D()(x)  # out: 192  RF: 32
    outputs = layers.Dense(10, activation="softmax")(x)  # out: 10  RF: 32
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

BN_AFTER_RELU_GAP = '''def build_model():
    model = keras.Sequential()
    model.add(keras.Input(shape=(32, 32, 3)))
    model.add(layers.SeparableConv2D(48, (3, 3), padding="same"))  # 32x32x48 RF:3
    model.add(layers.Activation("relu"))
    model.add(layers.BatchNormalization())
    model.add(layers.SeparableConv2D(64, (3, 3), strides=2, padding="same"))  # 16x16x64 RF:5
    model.add(layers.Activation("relu"))
    model.add(layers.BatchNormalization())
    model.add(layers.Dropout(0.1))
    model.add(layers.SeparableConv2D(128, (3, 3), padding="same"))  # 16x16x128 RF:9
    model.add(layers.Activation("relu"))
    model.add(layers.BatchNormalization())
    model.add(layers.SeparableConv2D(160, (3, 3), strides=2, padding="same"))  # 8x8x160 RF:13
    model.add(layers.Activation("relu"))
    model.add(layers.BatchNormalization())
    model.add(layers.Dropout(0.2))
    model.add(layers.GlobalAveragePooling2D())  # 160 RF:32
    model.add(layers.Dense(10, activation="softmax"))  # 10 RF:32
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

VARIANTS = {"default_bn_flatten": DEFAULT_BN_FLATTEN, "bn_before_relu_gap": BN_BEFORE_RELU_GAP,
            "bn_after_relu_gap": BN_AFTER_RELU_GAP}
