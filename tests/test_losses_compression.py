import math

import pytest
import torch
import torch.nn.functional as F

from longtail import LongtailError, compression, losses, models


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, y = torch.randn(16, 5, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 5
    assert losses.focal(logits, y, gamma=0) == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)


def test_focal_by_hand():
    logits, y = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1])  # p_true = 3/4
    expected = (1 / 4) ** 2 * -math.log(3 / 4)
    assert losses.focal(logits, y, gamma=2).item() == pytest.approx(expected, rel=1e-6)


def test_unknown_loss_names_the_choices():
    with pytest.raises(LongtailError, match="unknown loss 'fcoal'; choose one of: ce, focal"):
        losses.make("fcoal")


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("sparsity", [0.3, 0.9])
def test_magnitude_pruning_reaches_the_sparsity_exactly_and_keeps_it_through_training(arch, sparsity):
    torch.manual_seed(0)
    model = models.build(arch, (1, 8, 8), 10)
    n = sum(m.weight.numel() for m, _ in compression.prunable(model))
    compression.magnitude_prune(model, sparsity)
    x, y = torch.rand(32, 1, 8, 8), torch.arange(32) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(x), y).backward()
    opt.step()  # the pruned weights get gradients, and the mask keeps them at zero
    compression.finalize(model)
    zeros = sum(int((m.weight == 0).sum()) for m, _ in compression.prunable(model))
    assert zeros == round(sparsity * n)
    assert compression.weights_kept(model) == pytest.approx(1 - round(sparsity * n) / n)


def test_pruning_removes_the_smallest_weights_across_layers():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1, -5.0], [3.0, 0.2]]))
        model[1].weight.copy_(torch.tensor([[-0.3, 4.0]]))
    compression.finalize(compression.magnitude_prune(model, 0.5))
    assert model[0].weight.tolist() == [[0.0, -5.0], [3.0, 0.0]]
    assert model[1].weight.tolist() == [[0.0, 4.0]]
