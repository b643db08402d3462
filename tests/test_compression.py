import warnings

import pytest
import torch
import torch.nn.functional as F

from longtail import LongtailError, devices
from longtail.compress import group_sparsity, magnitude, quantize, size
from longtail.train import models
from recipes import recipe


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("sparsity", [0.3, 0.9])
def test_magnitude_pruning_reaches_the_sparsity_exactly_and_keeps_it_through_training(arch, sparsity):
    torch.manual_seed(0)
    model = models.build(arch, (1, 8, 8), 10)
    n = sum(m.weight.numel() for m, _ in size.prunable(model))
    magnitude.prune(model, sparsity)
    x, y = torch.rand(32, 1, 8, 8), torch.arange(32) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(x), y).backward()
    opt.step()  # the pruned weights get gradients, and the mask keeps them at zero
    magnitude.finalize(model)
    zeros = sum(int((m.weight == 0).sum()) for m, _ in size.prunable(model))
    assert zeros == round(sparsity * n)
    assert size.weights_kept(model) == pytest.approx(1 - round(sparsity * n) / n)


def test_pruning_removes_the_smallest_weights_across_layers():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1, -5.0], [3.0, 0.2]]))
        model[1].weight.copy_(torch.tensor([[-0.3, 4.0]]))
    magnitude.finalize(magnitude.prune(model, 0.5))
    assert model[0].weight.tolist() == [[0.0, -5.0], [3.0, 0.0]]
    assert model[1].weight.tolist() == [[0.0, 4.0]]


@pytest.mark.parametrize("arch, in_shape", [("cnn", (1, 8, 8)), ("mlp", (1, 8, 8)), ("resnet20", (3, 32, 32))])
@pytest.mark.parametrize("target", [0.5, 0.3])
def test_group_sparsity_removes_channels_down_to_the_target_flops(arch, in_shape, target):
    torch.manual_seed(0)
    model = models.build(arch, in_shape, 10).eval()
    before = size.footprint(model, in_shape)
    smaller = group_sparsity.remove_channels(model, in_shape, target)
    after = size.footprint(smaller, in_shape)
    assert after["parameters"] < before["parameters"]
    assert after["flops"] <= target * before["flops"]
    assert after["flops"] >= (target - 0.05) * before["flops"]
    x = torch.rand(4, *in_shape)
    assert smaller.eval()(x).shape == (4, 10)
    assert model.eval()(x).shape == (4, 10)  # the original is left whole
    assert size.footprint(model, in_shape) == before


def test_group_sparsity_keeps_residual_channels_and_the_logits():
    model = models.build("resnet20", (3, 32, 32), 10)
    layers = {g.layer for g in group_sparsity.channel_groups(model, (3, 32, 32))}
    # Only the first conv of each block: its output is read by the second conv alone.
    assert layers == {f"{i}.body.0" for i in range(3, 12)}


def test_group_norms_cover_the_whole_group_and_the_weakest_channels_go():
    torch.manual_seed(0)
    model = models.build("cnn", (1, 8, 8), 10)
    groups = {g.layer: g for g in group_sparsity.channel_groups(model, (1, 8, 8))}
    conv1, conv2 = model[0], model[2]
    expected = (conv1.weight.pow(2).sum((1, 2, 3)) + conv1.bias.pow(2) + conv2.weight.pow(2).sum((0, 2, 3))).sqrt()
    torch.testing.assert_close(groups["0"].norms(), expected)
    with torch.no_grad():  # silence channels 3 and 7 of the first conv: they must be the first to go
        for c in (3, 7):
            conv1.weight[c] *= 1e-3
            conv1.bias[c] *= 1e-3
            conv2.weight[:, c] *= 1e-3
    x = torch.rand(8, 1, 8, 8)
    smaller = group_sparsity.remove_channels(model, (1, 8, 8), 0.94)  # two of 32 channels
    assert smaller[0].out_channels == 30
    torch.testing.assert_close(smaller(x), model(x), atol=1e-3, rtol=0)


def test_group_lasso_gradient_shrinks_whole_groups():
    model = models.build("mlp", (1, 8, 8), 10)
    penalty = group_sparsity.group_lasso(group_sparsity.channel_groups(model, (1, 8, 8)))
    value = penalty()
    value.backward()
    assert value.item() > 0 and model[1].weight.grad.abs().sum() > 0 and model[3].weight.grad.abs().sum() > 0
    assert model[5].bias.grad is None  # the logits layer's own outputs are not penalized


def test_unreachable_flops_target_says_so():
    model = models.build("resnet20", (3, 32, 32), 10)
    with pytest.raises(LongtailError, match="target_flops = 0.01 is out of reach"):
        group_sparsity.remove_channels(model, (3, 32, 32), 0.01)


@pytest.fixture(scope="module")
def digits_reference():
    from longtail.data import datasets
    from longtail.train import training

    arrays = datasets.load("digits")
    x, y = devices.tensors(arrays["x_train"], arrays["y_train"], "cpu")
    xt, yt = devices.tensors(arrays["x_test"], arrays["y_test"], "cpu")
    torch.manual_seed(0)
    model = training.train(models.build("mlp", (1, 8, 8), 10), x, y, recipe=recipe(epochs=15, batch_size=64, lr=0.1), generator=torch.Generator().manual_seed(0))
    return model, x, xt, yt


def test_quantized_model_holds_int8_weights_and_keeps_its_accuracy(digits_reference):
    from longtail.train import training

    model, x, xt, yt = digits_reference
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated API, no warning silenced: none raised at all
        quantized = quantize.quantize(model, x[:512])
    weights = [p.shape for p in model.parameters() if p.dim() == 2]
    int8 = [t.shape for t in quantized.state_dict().values() if t.dtype == torch.int8]
    assert len(weights) == 3 and sorted(int8) == sorted(weights)  # every linear layer's weights are int8
    # torchao lowered it to onednn's int8 kernels: the graph that runs calls them
    assert quantized.int8_kernels
    assert any("onednn.qlinear" in str(n.target) for n in quantized.lowered.graph.nodes)
    assert quantized(xt[:3]).shape == (3, 10)  # a batch smaller than the compiled one
    assert quantize.quantize(model, x[:1])(xt[:3]).shape == (3, 10)  # compress.calibration_size: 1
    reference_accuracy = (training.predict(model, xt) == yt).float().mean().item()
    quantized_accuracy = (training.predict(quantized, xt) == yt).float().mean().item()
    assert reference_accuracy > 0.9
    assert abs(quantized_accuracy - reference_accuracy) <= 0.02
    assert size.size_bytes(quantized) < size.size_bytes(model) / 2


@pytest.mark.parametrize("arch, in_shape", [("mlp", (1, 8, 8)), ("cnn", (1, 8, 8)), ("resnet20", (3, 32, 32))])
def test_distill_students_are_thinner_members_of_the_family(arch, in_shape):
    full, thin = models.build(arch, in_shape, 10), models.build(arch, in_shape, 10, width=0.5)
    assert type(full) is type(thin)
    assert size.footprint(thin, in_shape)["parameters"] < 0.4 * size.footprint(full, in_shape)["parameters"]
    assert thin(torch.rand(2, *in_shape)).shape == (2, 10)


def test_distill_refuses_an_arch_without_a_thinner_version():
    with pytest.raises(LongtailError, match="arch airbench has no thinner version"):
        models.build("airbench", (3, 32, 32), 10, width=0.5)


def test_a_convolutional_network_runs_on_int8_convolutions():
    """onednn's int8 convolutions return channels-last tensors: the flatten after them must still work."""
    torch.manual_seed(0)
    model, x = models.build("cnn", (1, 8, 8), 10).eval(), torch.rand(300, 1, 8, 8)
    quantized = quantize.quantize(model, x[:256], batch=128)
    assert any("onednn.qconv" in str(n.target) for n in quantized.lowered.graph.nodes)
    with torch.no_grad():
        out, reference = quantized(x), model(x)
    assert out.shape == (300, 10)
    assert (out - reference).abs().max() < 0.1 * reference.abs().max()  # int8 rounding, not another function


def test_a_new_method_is_its_own_module_and_one_registry_line(tmp_path, root, tiny_project, monkeypatch):
    """A toy method registered from here, no other module edited: params' check admits its name
    only once it is registered, and the compress stage runs it, recovery and metrics included."""
    import copy
    import json
    import runpy

    import numpy as np
    from typer.testing import CliRunner

    from longtail import params
    from longtail.compress import methods
    from longtail.compress.method import Level, Method

    def levels(job):  # the reference as it is, then the recovery every fine-tuning method ends with
        yield Level(None, *[job.recover(copy.deepcopy(job.reference), "recovery")] * 2)

    project = tiny_project(tmp_path, ("prepare", "reference"), reference={"epochs": 2},
                           compress={"method": "toy", "epochs": 1})
    p = params.read(project / "params.yaml")
    with pytest.raises(LongtailError, match="unknown compress.method 'toy'"):
        params.section(p, "compress", params.Compress)
    monkeypatch.setattr(methods, "METHODS", dict(methods.METHODS))  # the registry as it was, after the test
    methods.register(Method("toy", levels))
    with pytest.raises(LongtailError, match="registered already"):
        methods.register(Method("toy", levels))
    assert params.section(p, "compress", params.Compress).method == "toy"

    monkeypatch.chdir(project)
    stage = runpy.run_path(str(root / "stages/compress.py"))["app"]
    result = CliRunner().invoke(stage, [])
    assert result.exit_code == 0, result.output
    summary = json.loads((project / "metrics/compress.json").read_text())
    assert summary["method"] == "toy" and summary["flops_ratio"] == 1.0
    assert np.load(project / "data/compress/compressed_pred.npy").shape == np.load(
        project / "data/compress/reference_pred.npy").shape
    assert (project / "dvclive/compress/plots/metrics").is_dir()  # the recovery's curve
