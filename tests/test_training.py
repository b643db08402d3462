import pytest
import torch

from longtail import LongtailError, devices, seeds
from longtail.data import datasets
from longtail.train import models, training
from recipes import recipe


def test_zero_epochs_leave_the_model_untouched():
    model = models.build("mlp", (1, 8, 8), 10)
    before = [p.clone() for p in model.parameters()]
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    training.train(model, x, torch.arange(8), recipe=recipe(epochs=0, batch_size=4, lr=0.1))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_training_fits_a_small_set_and_the_same_seeds_give_the_same_model():
    x, y = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.arange(40) % 4

    def fit():
        torch.manual_seed(seeds.derive(0, 9))
        model = models.build("mlp", (1, 8, 8), 4)
        return training.train(model, x, y, recipe=recipe(epochs=30, batch_size=8, lr=0.1), generator=seeds.generator(0, 9, 1))

    a, b = fit(), fit()
    assert (training.predict(a, x) == y).all()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_seed_streams_are_independent():
    assert seeds.derive(0, seeds.TRIALS, 1, 0) != seeds.derive(0, seeds.TRIALS, 1, 1)
    assert seeds.derive(0, 1) == seeds.derive(0, 1)


def test_device_auto_is_cpu_without_cuda_and_cuda_without_a_gpu_is_refused():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert devices.pick("auto").type == "cpu"
    with pytest.raises(LongtailError, match="CUDA is not available"):
        devices.pick("cuda")
    with pytest.raises(LongtailError, match="unknown device 'gpu0'"):
        devices.pick("gpu0")


def test_the_fast_path_bf16_and_channels_last_trains_as_well_as_float32():
    """What a CUDA run uses (bfloat16 autocast, channels_last), forced on the CPU: the model ends in
    channels_last and float32 weights, and learns digits as the float32 path does."""
    digits = datasets.split(*datasets.digits(), test_fraction=0.2, seed=0)
    x, y = devices.tensors(digits["x_train"], digits["y_train"], "cpu")
    xt, yt = devices.tensors(digits["x_test"], digits["y_test"], "cpu")
    accuracy, weights = {}, {}
    for fast in (False, True):
        torch.manual_seed(0)
        model = models.build("cnn", (1, 8, 8), 10)
        training.train(model, x, y, recipe=recipe(epochs=10, batch_size=64, lr=0.1), fast=fast, generator=seeds.generator(0, 1))
        conv = model[2].weight  # 64 x 32 x 3 x 3: its layouts differ (a 1-channel one is both)
        assert conv.dtype == torch.float32
        assert conv.is_contiguous(memory_format=torch.channels_last) == fast
        accuracy[fast], weights[fast] = (training.predict(model, xt) == yt).float().mean().item(), conv
    assert not torch.equal(weights[True], weights[False])  # bfloat16 rounding took another path
    assert accuracy[False] > 0.9
    assert abs(accuracy[True] - accuracy[False]) < 0.03


def test_keeping_the_last_batch_covers_every_example_once_per_epoch():
    assert training.steps_per_epoch(10, 4, drop_last=True) == 2
    assert training.steps_per_epoch(10, 4, drop_last=False) == 3
    assert training.steps_per_epoch(3, 4, drop_last=False) == 1  # a set smaller than a batch is one batch
    batches, _, _ = training.epoch_plan(10, 4, seeds.generator(0, 1), drop_last=False)
    assert batches.shape == (3, 4) and (batches[-1] == -1).sum() == 2  # the padding of the partial batch
    assert sorted(batches[batches >= 0].tolist()) == list(range(10))
    dropped, _, _ = training.epoch_plan(10, 4, seeds.generator(0, 1), drop_last=True)
    assert torch.equal(dropped, batches[:2])  # the same permutation: only the remainder differs


def test_the_learning_rate_decays_linearly_or_stays_constant():
    assert training.learning_rate("linear", 0.2, 0, 10) == 0.2
    assert training.learning_rate("linear", 0.2, 5, 10) == pytest.approx(0.1)
    assert training.learning_rate("constant", 0.2, 9, 10) == 0.2
    with pytest.raises(LongtailError, match="unknown schedule 'cosine'; choose one of: linear, constant"):
        training.learning_rate("cosine", 0.2, 0, 10)
    model = models.build("mlp", (1, 8, 8), 3)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(LongtailError, match="unknown schedule 'cosine'"):
        training.train(model, torch.rand(10, 1, 8, 8), torch.arange(10) % 3, recipe=recipe(epochs=1, batch_size=4, lr=0.1, schedule="cosine"))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before any step


def test_each_recipe_option_changes_the_trained_model_as_torch_sgd_does():
    """training.train is torch.optim.SGD under the recipe's options: replaying the same batches by
    hand with SGD(nesterov=...) and the schedule gives the same weights, and each option matters."""
    x, y = torch.rand(30, 1, 8, 8), torch.arange(30) % 3
    base = dict(epochs=3, batch_size=8, lr=0.1, momentum=0.9, weight_decay=1e-3)

    def trained(**options):
        torch.manual_seed(0)
        return training.train(models.build("mlp", (1, 8, 8), 3), x, y, recipe=recipe(**base, **options), generator=seeds.generator(0, 2))

    def by_hand(schedule, nesterov, drop_last):
        torch.manual_seed(0)
        model = models.build("mlp", (1, 8, 8), 3)
        opt = torch.optim.SGD(model.parameters(), lr=base["lr"], momentum=0.9, nesterov=nesterov, weight_decay=1e-3)
        g, steps = seeds.generator(0, 2), base["epochs"] * training.steps_per_epoch(30, 8, drop_last)
        step = 0
        for _ in range(base["epochs"]):
            for batch in training.epoch_plan(30, 8, g, drop_last=drop_last)[0]:
                batch = batch[batch >= 0]
                for group in opt.param_groups:
                    group["lr"] = training.learning_rate(schedule, base["lr"], step, steps)
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                opt.step()
                step += 1
        return model

    options = [dict(schedule=s, nesterov=n, drop_last=d) for s in ("linear", "constant")
               for n in (True, False) for d in (True, False)]
    weights = []
    for o in options:
        mine, theirs = trained(**o), by_hand(**o)
        for p, q in zip(mine.parameters(), theirs.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
        weights.append(torch.cat([p.detach().flatten() for p in mine.parameters()]))
    assert all(not torch.equal(a, b) for i, a in enumerate(weights) for b in weights[i + 1:])


def test_recording_curves_changes_no_weight():
    """The epoch callback evaluates the model (eval mode, BatchNorm frozen); training goes on in train mode."""
    x, y = torch.rand(40, 3, 8, 8), torch.arange(40) % 3
    seen = []

    def fit(on_epoch):
        torch.manual_seed(0)
        model = models.build("resnet20", (3, 8, 8), 3)  # BatchNorm: eval mode would freeze its statistics
        return training.train(model, x, y, recipe=recipe(epochs=3, batch_size=8, lr=0.1), generator=seeds.generator(0, 1), on_epoch=on_epoch)

    plain = fit(None)
    logged = fit(lambda epoch, model, stats: seen.append((epoch, training.accuracy(model, x, y), stats)))
    for (name, a), b in zip(plain.state_dict().items(), logged.state_dict().values()):
        assert torch.equal(a, b), name
    assert [e for e, _, _ in seen] == [0, 1, 2] and all(0 <= s["accuracy"] <= 1 and s["loss"] > 0 for _, _, s in seen)
