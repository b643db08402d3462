import pytest
import torch

from longtail import LongtailError, data, models, training


def test_zero_epochs_leave_the_model_untouched():
    model = models.build("mlp", (1, 8, 8), 10)
    before = [p.clone() for p in model.parameters()]
    training.train(model, torch.rand(8, 1, 8, 8), torch.arange(8), epochs=0, batch_size=4, lr=0.1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_training_fits_a_small_set_and_the_same_seeds_give_the_same_model():
    x, y = torch.rand(40, 1, 8, 8), torch.arange(40) % 4

    def fit():
        torch.manual_seed(training.derive_seed(0, 9))
        model = models.build("mlp", (1, 8, 8), 4)
        return training.train(model, x, y, epochs=30, batch_size=8, lr=0.1, generator=training.generator(0, 9, 1))

    a, b = fit(), fit()
    assert (training.predict(a, x) == y).all()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_seed_streams_are_independent():
    assert training.derive_seed(0, training.TRIALS, 1, 0) != training.derive_seed(0, training.TRIALS, 1, 1)
    assert training.derive_seed(0, 1) == training.derive_seed(0, 1)


def test_device_auto_is_cpu_without_cuda_and_cuda_without_a_gpu_is_refused():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert training.pick_device("auto").type == "cpu"
    with pytest.raises(LongtailError, match="CUDA is not available"):
        training.pick_device("cuda")
    with pytest.raises(LongtailError, match="unknown device 'gpu0'"):
        training.pick_device("gpu0")


def test_the_fast_path_bf16_and_channels_last_trains_as_well_as_float32():
    """What a CUDA run uses (bfloat16 autocast, channels_last), forced on the CPU: the model ends in
    channels_last and float32 weights, and learns digits as the float32 path does."""
    digits = data.split(*data.digits(), test_fraction=0.2, seed=0)
    x, y = training.tensors(digits["x_train"], digits["y_train"], "cpu")
    xt, yt = training.tensors(digits["x_test"], digits["y_test"], "cpu")
    accuracy, weights = {}, {}
    for fast in (False, True):
        torch.manual_seed(0)
        model = models.build("cnn", (1, 8, 8), 10)
        training.train(model, x, y, epochs=10, batch_size=64, lr=0.1, fast=fast,
                       generator=training.generator(0, 1))
        conv = model[2].weight  # 64 x 32 x 3 x 3: its layouts differ (a 1-channel one is both)
        assert conv.dtype == torch.float32
        assert conv.is_contiguous(memory_format=torch.channels_last) == fast
        accuracy[fast], weights[fast] = (training.predict(model, xt) == yt).float().mean().item(), conv
    assert not torch.equal(weights[True], weights[False])  # bfloat16 rounding took another path
    assert accuracy[False] > 0.9
    assert abs(accuracy[True] - accuracy[False]) < 0.03
