"""The model zoo, written by hand (no torchvision): any input shape, any class count.

Every model is traceable by torch.fx (no data-dependent control flow, torch.flatten instead
of x.view(x.size(0), ...)), so the profiler can find its cut-able boundaries and validation
can split it. Activations are not in-place, so a cut never aliases a tensor across parts.

Small inputs: spatial down-sampling is skipped once the feature map is 1 pixel wide, VGG's
head is the CIFAR-style 512-wide one below 64 px (the ImageNet 7x7x512 -> 4096 head at 64 px
and above), and ResNet-18 and MobileNetV2 use the CIFAR stems (stride 1, no max-pool) below
64 px. So 8x8 digits and 3x224x224 ImageNet use the same definitions.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .registry import ZOO_MODELS, chw

_shape = chw        # the zoo builds 2-D convolutions: C,H,W


class FplCnn(nn.Module):
    """The FPL paper's EMNIST network: two conv blocks and two fully connected layers."""

    def __init__(self, input_shape=(1, 28, 28), num_classes=47, width: int = 32, hidden: int = 512):
        super().__init__()
        c, h, w = _shape(input_shape)
        self.conv1 = nn.Sequential(nn.Conv2d(c, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        h, w = h // 2 // 2, w // 2 // 2
        self.flatten = nn.Flatten()
        self.fc1 = nn.Sequential(nn.Linear(2 * width * max(h, 1) * max(w, 1), hidden), nn.ReLU())
        self.fc2 = nn.Linear(hidden, num_classes)
        if h < 1 or w < 1:
            raise ValueError(f"fpl_cnn needs inputs of at least 4x4, got {input_shape}")

    def forward(self, x):
        return self.fc2(self.fc1(self.flatten(self.conv2(self.conv1(x)))))


class LeNet5(nn.Module):
    """LeNet-5 with padded convolutions (any input of 4x4 or more)."""

    def __init__(self, input_shape=(1, 32, 32), num_classes=10):
        super().__init__()
        c, h, w = _shape(input_shape)
        if h < 4 or w < 4:
            raise ValueError(f"lenet5 needs inputs of at least 4x4, got {input_shape}")
        self.features = nn.Sequential(
            nn.Conv2d(c, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        )
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(16 * (h // 4) * (w // 4), 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


class MLP(nn.Module):
    def __init__(self, input_shape=(1, 28, 28), num_classes=10, hidden: Sequence[int] = (128, 64)):
        super().__init__()
        d = 1
        for s in _shape(input_shape):
            d *= s
        layers: list[nn.Module] = [nn.Flatten()]
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Cnn1d(nn.Module):
    """A small 1-D CNN for signals (mnist1d's 40-sample sequences): three convolutions along the
    last axis (kernels 1 x 5, stride 2), then a linear classifier. Inputs are C x 1 x W (or
    C x H x W, convolved along W)."""

    def __init__(self, input_shape=(1, 1, 40), num_classes=10, width: int = 32):
        super().__init__()
        c, h, w = _shape(input_shape)
        if w < 8:
            raise ValueError(f"cnn1d needs sequences of at least 8 samples, got {input_shape}")
        layers: list[nn.Module] = []
        cin = c
        for _ in range(3):
            layers.append(nn.Sequential(nn.Conv2d(cin, width, (1, 5), stride=(1, 2), padding=(0, 2)), nn.ReLU()))
            cin = width
            w = (w - 1) // 2 + 1
        self.convs = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(width * h * w, num_classes)

    def forward(self, x):
        return self.fc(self.flatten(self.convs(x)))


_VGG_CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, cfg: str = "vgg16", input_shape=(3, 224, 224), num_classes=1000,
                 width_mult: float = 1.0, batch_norm: bool = False):
        super().__init__()
        c, h, w = _shape(input_shape)
        big = min(h, w) >= 64
        layers: list[nn.Module] = []
        out = c
        for v in _VGG_CFG[cfg]:
            if v == "M":
                if h >= 2 and w >= 2:
                    layers.append(nn.MaxPool2d(2))
                    h, w = h // 2, w // 2
                continue
            v = max(1, int(round(v * width_mult)))
            layers.append(nn.Conv2d(out, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            out = v
        self.features = nn.Sequential(*layers)
        pool = 7 if big else 1
        hidden = 4096 if big else 512
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(out * pool * pool, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, input_shape=(3, 224, 224), num_classes=1000, width_mult: float = 1.0):
        super().__init__()
        c, h, w = _shape(input_shape)
        widths = [max(1, int(round(64 * width_mult * 2**i))) for i in range(4)]
        if min(h, w) >= 64:
            self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                      nn.ReLU())
        blocks, cin = [], widths[0]
        for i, cout in enumerate(widths):
            for j in range(2):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(cin, cout, stride))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.flatten(self.avgpool(self.layers(self.stem(x)))))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    # (expansion t, channels c, repeats n, stride s) as in Sandler et al., 2018
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, input_shape=(3, 224, 224), num_classes=1000, width_mult: float = 1.0):
        super().__init__()
        c, h, w = _shape(input_shape)
        small = min(h, w) < 64
        first = max(8, int(round(32 * width_mult)))
        last = max(first, int(round(1280 * max(1.0, width_mult))))
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(c, first, 3, 1 if small else 2, 1, bias=False), nn.BatchNorm2d(first), nn.ReLU6())]
        cin = first
        for k, (t, ch, n, s) in enumerate(self.SETTINGS):
            cout = max(8, int(round(ch * width_mult)))
            for i in range(n):
                stride = s if i == 0 else 1
                if small and k == 1:  # CIFAR variant: keep resolution in the first down-sampling stage
                    stride = 1
                layers.append(InvertedResidual(cin, cout, stride, t))
                cin = cout
        layers.append(nn.Sequential(nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6()))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


def build(name: str, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, **kwargs) -> nn.Module:
    """A zoo model by name, for the given input shape (C,H,W) and class count."""
    shape = _shape(input_shape)
    if name == "fpl_cnn":
        return FplCnn(shape, num_classes, **kwargs)
    if name == "lenet5":
        return LeNet5(shape, num_classes, **kwargs)
    if name == "mlp":
        return MLP(shape, num_classes, **kwargs)
    if name == "cnn1d":
        return Cnn1d(shape, num_classes, **kwargs)
    if name in ("vgg11", "vgg16", "vgg19"):
        return VGG(name, shape, num_classes, **kwargs)
    if name == "resnet18":
        return ResNet18(shape, num_classes, **kwargs)
    if name == "mobilenetv2":
        return MobileNetV2(shape, num_classes, **kwargs)
    raise ValueError(f"unknown zoo model '{name}'; available: {', '.join(ZOO_MODELS)}")


