"""On CUDA, where a GPU runner has one (skipped elsewhere): the batched engine, the reference
training and the compression recipe run there and agree with the CPU up to bfloat16 and
floating-point order."""

import copy

import numpy as np
import pytest
import torch

from longtail import devices, seeds
from longtail.compress import group_sparsity, size
from longtail.data import datasets
from longtail.train import models, training, trials
from recipes import recipe

pytestmark = pytest.mark.gpu

RECIPE = dict(epochs=25, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4)


@pytest.fixture(scope="module")
def digits():
    x, y = datasets.digits()
    return datasets.split(x, y, test_fraction=0.2, seed=0)


def test_trials_on_cuda_agree_with_the_same_trials_on_the_cpu(digits):
    masks = trials.sample_masks(8, len(digits["y_train"]), 0.7, seed=0)
    results = {}
    for device in ("cpu", "cuda"):
        tensors = (*devices.tensors(digits["x_train"], digits["y_train"], device),
                   *devices.tensors(digits["x_test"], digits["y_test"], device))
        results[device] = trials.run_chunk(*tensors, masks, range(8), recipe=recipe(**RECIPE), arch="mlp", seed=0)
    for cpu, cuda in zip(results["cpu"][:2], results["cuda"][:2]):
        assert (cpu == cuda).mean() >= 0.97  # bfloat16 autocast on CUDA: not bit-identical
    for name in trials.CURVES:  # the curves come from the steps themselves on either device
        np.testing.assert_allclose(results["cuda"].curves[name][:, -1], results["cpu"].curves[name][:, -1], atol=0.05)
    subset_accuracy = results["cuda"][0][masks].mean()
    assert subset_accuracy >= 0.99


def test_reference_and_group_sparsity_on_cuda_keep_their_accuracy(digits):
    x, y = devices.tensors(digits["x_train"], digits["y_train"], "cuda")
    xt, yt = devices.tensors(digits["x_test"], digits["y_test"], "cuda")
    torch.manual_seed(0)
    model = models.build("cnn", tuple(x.shape[1:]), 10).cuda()
    training.train(model, x, y, recipe=recipe(**RECIPE), generator=seeds.generator(0, 1))
    accuracy = (training.predict(model, xt) == yt).float().mean().item()
    assert accuracy > 0.9
    pruned = group_sparsity.remove_channels(copy.deepcopy(model), tuple(x.shape[1:]), 0.5)
    training.train(pruned, x, y, recipe=recipe(**RECIPE | {"epochs": 3, "lr": 0.01}), generator=seeds.generator(0, 2))
    assert size.flops(pruned, tuple(x.shape[1:])) <= 0.5 * size.flops(model, tuple(x.shape[1:]))
    assert (training.predict(pruned, xt) == yt).float().mean().item() > accuracy - 0.05
    assert np.isfinite(next(pruned.parameters()).detach().cpu().numpy()).all()


def test_the_estimates_products_on_cuda_are_the_cpus():
    # 0/1 targets bit for bit (exact counts, the same IEEE operations); a soft target within float32
    # rounding of its sums.
    from longtail.estimate import influence, null

    rng = np.random.default_rng(0)
    masks = rng.random((200, 300)) < 0.7
    correct = rng.random((200, 120)) < 0.8
    soft = (correct * 4 - 2 + rng.normal(0, 1, correct.shape)).astype(np.float16)
    halves, held = (np.arange(0, 200, 2), np.arange(1, 200, 2)), np.arange(0, 200, 10)
    for target, same in ((correct, np.testing.assert_array_equal),
                         (soft, lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5))):
        for cpu, gpu in zip(influence.influence_pass(masks, target, halves, held, 50),
                            influence.influence_pass(masks, target, halves, held, 50, device="cuda")):
            for name in cpu:
                same(gpu[name], cpu[name])
    memorization = influence.memorization(masks, rng.random((200, 300)) < 0.8)
    cpu = null.influence_free(masks, correct, memorization, draws=3, seed=0, rows=50)
    gpu = null.influence_free(masks, correct, memorization, draws=3, seed=0, rows=50, device="cuda")
    for name in cpu:
        np.testing.assert_array_equal(gpu[name], cpu[name])
