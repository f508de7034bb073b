"""Names of the zoo's models, importable without torch (the scenario loader checks them)."""

ZOO_MODELS = ("fpl_cnn", "lenet5", "mlp", "cnn1d", "vgg11", "vgg16", "vgg19", "resnet18", "mobilenetv2")

ZOO_DESCRIPTIONS = {
    "fpl_cnn": "the FPL paper's EMNIST CNN: two conv blocks, two fully connected layers",
    "lenet5": "LeNet-5 (padded convolutions, so any input of 4x4 or more works)",
    "mlp": "multi-layer perceptron 128-64",
    "cnn1d": "a small 1-D CNN (three strided 1x5 convolutions) for signals such as mnist1d",
    "vgg11": "VGG-11 (configuration A), ImageNet head for inputs of 64 px or more",
    "vgg16": "VGG-16 (configuration D), ImageNet head for inputs of 64 px or more",
    "vgg19": "VGG-19 (configuration E), the model of the shipped measured workbooks",
    "resnet18": "ResNet-18 (basic blocks; CIFAR stem below 64 px)",
    "mobilenetv2": "MobileNetV2 (width 1.0; CIFAR strides below 64 px)",
}


def chw(input_shape) -> tuple[int, int, int]:
    """A zoo model's C,H,W: H,W or a length padded with ones (the zoo's convolutions are 2-D)."""
    s = tuple(int(x) for x in input_shape)
    if len(s) == 1:
        return (1, 1, s[0])
    if len(s) == 2:
        return (1, s[0], s[1])
    if len(s) != 3:
        raise ValueError(f"input_shape must be C,H,W (or H,W or a length), got {list(input_shape)}")
    return s  # type: ignore[return-value]


def sample_shape(spec) -> tuple[int, ...]:
    """The shape one sample reaches the model in, after its batch axis: a zoo model's C,H,W
    (`chw`); a model of the user's own (module, export) gets model.input_shape as written, so a
    Conv1d takes [1, 40] as [batch, 1, 40] and a Linear takes [64] as [batch, 64]."""
    return chw(spec.input_shape) if getattr(spec, "zoo", None) else tuple(int(x) for x in spec.input_shape)


def sample_dtype(spec):
    """The torch dtype of one sample: model.input_dtype (int64 for token indices), else float32."""
    import torch
    return getattr(torch, getattr(spec, "input_dtype", None) or "float32")


def describe(spec) -> str:
    """How the scenario names its model, for messages."""
    if spec.module:
        return f"module {spec.module}"
    if spec.export:
        return f"export {spec.export}"
    return f"zoo {spec.zoo}"


def first_line(e: Exception) -> str:
    """An exception's message cut to its first line (200 characters at most), for messages."""
    return (str(e).strip().splitlines() or [""])[0][:200]
