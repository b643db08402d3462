import pytest
import torch

from longtail import LongtailError
from longtail.train import models


@pytest.mark.parametrize("arch, published, tolerance", [
    ("resnet20", 0.27e6, 0.01),          # He et al. 2016, Table 6
    ("resnet56", 0.85e6, 0.01),
    ("resnext29_8x64d", 34.4e6, 0.01),   # Xie et al. 2017, Table 7
    ("densenet_bc100", 0.8e6, 0.04),     # Huang et al. 2017, Table 2 (0.769 M exactly)
    ("airbench", 1.97e6, 0.01),          # airbench94
])
def test_cifar_networks_have_their_published_parameter_counts(arch, published, tolerance):
    model = models.build(arch, (3, 32, 32), 10)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(published, rel=tolerance)


@pytest.mark.parametrize("arch, shape", [
    ("mlp", (1, 8, 8)), ("mlp512", (1, 28, 28)), ("cnn", (1, 8, 8)), ("cnn", (1, 28, 28)),
    ("resnet20", (3, 32, 32)), ("densenet_bc100", (3, 32, 32)), ("airbench", (3, 32, 32)),
])
def test_every_network_maps_a_batch_to_logits(arch, shape):
    assert models.build(arch, shape, 7)(torch.rand(2, *shape)).shape == (2, 7)


def test_the_feldman_zhang_mnist_mlp_is_784_512_256_10():
    layers = [m for m in models.build("mlp512", (1, 28, 28), 10) if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(784, 512), (512, 256), (256, 10)]


def test_checkpoints_round_trip(tmp_path):
    model = models.build("resnet20", (3, 16, 16), 10).eval()
    torch.save(models.checkpoint(model, "resnet20", (3, 16, 16), 10), tmp_path / "m.pt")
    again = models.load(tmp_path / "m.pt", "cpu").eval()
    x = torch.rand(3, 3, 16, 16)
    assert torch.equal(model(x), again(x))


def test_unknown_arch_names_the_choices():
    with pytest.raises(LongtailError, match="unknown arch 'vgg'; choose one of: mlp, mlp512, cnn, resnet20"):
        models.build("vgg", (3, 32, 32), 10)


def test_glorot_normal_draws_stax_weights_and_leaves_batchnorm_alone():
    torch.manual_seed(0)
    model = models.build("mlp512", (1, 28, 28), 10, init="glorot_normal")
    first = model[1]  # 784 -> 512
    std = (2 / (784 + 512)) ** 0.5
    assert first.weight.std().item() == pytest.approx(std, rel=0.02)  # the truncation is rescaled away
    assert first.weight.abs().max().item() <= 2 * std / 0.87962566103423978 + 1e-6  # truncated at 2 sigma
    assert first.bias.std().item() == pytest.approx(1e-2, rel=0.2)
    torch.manual_seed(0)
    default = models.build("mlp512", (1, 28, 28), 10)
    assert default[1].weight.std().item() == pytest.approx((1 / (3 * 784)) ** 0.5, rel=0.02)  # Kaiming-uniform
    resnet = models.build("resnet20", (3, 32, 32), 10, init="glorot_normal")
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in resnet.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    with pytest.raises(LongtailError, match="unknown init 'xavier'; choose one of: torch, glorot_normal"):
        models.build("mlp", (1, 8, 8), 10, init="xavier")
