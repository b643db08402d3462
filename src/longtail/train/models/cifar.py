"""CIFAR networks of the papers, for 3x32x32 inputs (any size with 3 channels works).

Published parameter counts (10 classes), checked in tests/test_models.py:
    resnet20          0.27 M   He et al. 2016, CIFAR ResNet, n = 3 (option A shortcuts)
    resnet56          0.85 M   He et al. 2016, n = 9; the seed paper's reference model
    resnext29_8x64d   34.4 M   Xie et al. 2017, Table 7
    densenet_bc100    0.8 M    Huang et al. 2017, DenseNet-BC, L = 100, k = 12
    airbench          1.97 M   Jordan 2024, airbench94: the fast-CIFAR-10 network
"""

import torch
import torch.nn.functional as F
from torch import nn


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU()]


class BasicBlock(nn.Module):
    """Two 3x3 convs; the shortcut subsamples and zero-pads channels (He et al.'s option A, no
    parameters), which is what gives ResNet-20 its 0.27 M."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), *_bn_relu(cout),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(self.body(x) + shortcut)


def resnet(depth: int, in_shape, num_classes: int, width: float = 1.0) -> nn.Module:
    """CIFAR ResNet of depth 6n + 2: three stages of n blocks at 16, 32, 64 channels (times `width`)."""
    n = (depth - 2) // 6
    channels = [max(1, round(c * width)) for c in (16, 32, 64)]
    layers, cin = [nn.Conv2d(in_shape[0], channels[0], 3, 1, 1, bias=False), *_bn_relu(channels[0])], channels[0]
    for stage, cout in enumerate(channels):
        for block in range(n):
            layers.append(BasicBlock(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))


def resnet20(in_shape, num_classes, width: float = 1.0):
    return resnet(20, in_shape, num_classes, width)


def resnet56(in_shape, num_classes, width: float = 1.0):
    return resnet(56, in_shape, num_classes, width)


class ResNeXtBlock(nn.Module):
    """Bottleneck with a grouped 3x3 conv: cardinality groups of `width` channels each."""

    def __init__(self, cin: int, cout: int, stride: int, cardinality: int, width: int):
        super().__init__()
        inner = cardinality * width
        self.body = nn.Sequential(
            nn.Conv2d(cin, inner, 1, bias=False), *_bn_relu(inner),
            nn.Conv2d(inner, inner, 3, stride, 1, groups=cardinality, bias=False), *_bn_relu(inner),
            nn.Conv2d(inner, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def resnext29_8x64d(in_shape, num_classes) -> nn.Module:
    """ResNeXt-29 (8x64d): three stages of three blocks, 256/512/1024 channels out, the grouped
    width doubling with each stage."""
    layers, cin = [nn.Conv2d(in_shape[0], 64, 3, 1, 1, bias=False), *_bn_relu(64)], 64
    for stage, cout in enumerate((256, 512, 1024)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(ResNeXtBlock(cin, cout, stride, cardinality=8, width=64 * 2**stage))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, num_classes))


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k), its k new channels appended to its input."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(*_bn_relu(cin), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  *_bn_relu(4 * growth), nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], dim=1)


def densenet_bc100(in_shape, num_classes, growth: int = 12, depth: int = 100) -> nn.Module:
    """DenseNet-BC: three dense blocks of (depth - 4) / 6 bottleneck layers, transitions halving
    the channels (compression 0.5)."""
    n = (depth - 4) // 6
    channels = 2 * growth
    layers = [nn.Conv2d(in_shape[0], channels, 3, 1, 1, bias=False)]
    for block in range(3):
        for _ in range(n):
            layers.append(DenseLayer(channels, growth))
            channels += growth
        if block < 2:
            layers += [*_bn_relu(channels), nn.Conv2d(channels, channels // 2, 1, bias=False), nn.AvgPool2d(2)]
            channels //= 2
    return nn.Sequential(*layers, *_bn_relu(channels), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(channels, num_classes))


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def _conv_group(cin: int, cout: int) -> nn.Sequential:
    """airbench's block: conv, 2x2 max-pool, BN, GELU, conv, BN, GELU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding="same", bias=False), nn.MaxPool2d(2),
        nn.BatchNorm2d(cout, momentum=0.4, eps=1e-12), nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding="same", bias=False),
        nn.BatchNorm2d(cout, momentum=0.4, eps=1e-12), nn.GELU(),
    )


def airbench(in_shape, num_classes) -> nn.Module:
    """The network of airbench94 (Keller Jordan's fastest CIFAR-10 trainer, 94% in about 3.5
    A100-seconds): a 2x2 conv to 24 channels, three conv groups of 64, 256, 256 channels, a 3x3
    max-pool and a linear head scaled by 1/9. The architecture only: airbench's whitening
    initialisation, frozen BN scales, lookahead and test-time augmentation are not reproduced."""
    whiten = 2 * in_shape[0] * 2**2
    return nn.Sequential(
        nn.Conv2d(in_shape[0], whiten, 2, bias=True), nn.GELU(),
        _conv_group(whiten, 64), _conv_group(64, 256), _conv_group(256, 256),
        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, num_classes, bias=False), Scale(1 / 9),
    )
