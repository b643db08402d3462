import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from longtail import LongtailError, params
from longtail.train import losses

LN3 = math.log(3.0)


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 5, generator=g), torch.arange(16) % 5, torch.randn(16, 5, generator=g)


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, y, _ = batch()
    assert losses.focal(logits, y, gamma=0).item() == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)


def test_ce_and_focal_by_hand():
    logits, y = torch.tensor([[0.0, LN3]]), torch.tensor([1])  # p_true = 3/4
    assert losses.cross_entropy(logits, y).item() == pytest.approx(-math.log(3 / 4), rel=1e-6)
    assert losses.focal(logits, y, gamma=2).item() == pytest.approx((1 / 4) ** 2 * -math.log(3 / 4), rel=1e-6)


def test_distillation_is_zero_when_student_equals_teacher():
    logits, y, _ = batch()
    assert losses.distillation(logits, logits.clone(), temperature=4).item() == pytest.approx(0, abs=1e-6)
    assert losses.kd(logits, y, logits.clone()).item() == pytest.approx(0.6 * F.cross_entropy(logits, y).item(), rel=1e-5)
    assert losses.parts(logits, y, logits.clone(), 4)[1:].abs().max().item() < 1e-6


def test_kd_multipart_and_their_parts_by_hand():
    T = 4.0
    student, y = torch.tensor([[0.0, 0.0]]), torch.tensor([1])
    teacher = torch.tensor([[0.0, T * LN3]])  # softmax(teacher / T) = [1/4, 3/4]; the student's is [1/2, 1/2]
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    ce, mse = math.log(2), (T * LN3) ** 2 / 2
    assert losses.distillation(student, teacher, T).item() == pytest.approx(T**2 * kl, rel=1e-5)
    assert losses.logit_mse(student, teacher).item() == pytest.approx(mse, rel=1e-5)
    assert losses.kd(student, y, teacher, temperature=T).item() == pytest.approx(0.6 * ce + 0.4 * T**2 * kl, rel=1e-5)
    got = losses.multipart(student, y, teacher, temperature=T, weights=(0.5, 2.0, 0.1)).item()
    assert got == pytest.approx(0.5 * ce + 2.0 * T**2 * kl + 0.1 * mse, rel=1e-5)


def test_softadapt_normalized_weights_by_hand():
    # slopes s = (-0.5, -0.1, 0.0), sum |s| = 0.6: normalized (-5/6, -1/6, 0); beta 2; scaled to sum to 3
    previous, recent = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.5, 0.9, 1.0])
    e = [math.exp(2 * -5 / 6), math.exp(2 * -1 / 6), 1.0]
    expected = [3 * v / sum(e) for v in e]
    assert losses.softadapt_weights(previous, recent, beta=2.0).tolist() == pytest.approx(expected, rel=1e-6)


def test_softadapt_normalized_weights_ignore_the_scale_of_the_slopes():
    # The raw slopes were what made beta = 0.1 do nothing: 1000 times smaller slopes, same weights.
    previous, recent = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.5, 0.9, 1.0])
    small = 1 - (1 - recent) / 1000
    assert losses.softadapt_weights(previous, small, beta=2.0).tolist() == pytest.approx(
        losses.softadapt_weights(previous, recent, beta=2.0).tolist(), rel=1e-4)


def test_softadapt_loss_weighted_weights_by_hand():
    previous, recent = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.5, 0.9, 1.0])
    raw = [f * math.exp(0.1 * (f - 1.0)) for f in recent.tolist()]
    expected = [3 * r / sum(raw) for r in raw]
    got = losses.softadapt_weights(previous, recent, beta=0.1, variant="loss_weighted")
    assert got.tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("variant", losses.SOFTADAPT_VARIANTS)
def test_softadapt_weights_sum_to_the_number_of_parts(variant):
    w = losses.softadapt_weights(torch.tensor([2.0, 2.0, 2.0]), torch.tensor([1.5, 1.5, 1.5]), beta=5.0, variant=variant)
    assert w.tolist() == pytest.approx([1.0] * 3)  # equal rates, equal levels: multipart's weights
    w = losses.softadapt_weights(torch.tensor([3.0, 0.2, 9.0]), torch.tensor([1.0, 0.1, 7.0]), beta=2.0, variant=variant)
    assert w.sum().item() == pytest.approx(3.0)
    assert (w > 0).all()
    no_change = torch.tensor([1.0, 2.0, 3.0])
    if variant == "normalized":  # nothing changed: nothing to adapt to
        assert losses.softadapt_weights(no_change, no_change, beta=1.0).tolist() == pytest.approx([1.0] * 3)


@pytest.mark.parametrize("variant", losses.SOFTADAPT_VARIANTS)
def test_softadapt_favours_the_slowest_improving_part(variant):
    previous, recent = torch.tensor([2.0, 1.2, 1.0]), torch.tensor([1.0, 1.0, 1.0])  # fast, slow, flat
    w = losses.softadapt_weights(previous, recent, beta=1.0, variant=variant)
    assert w[2] > w[1] > w[0]
    assert losses.softadapt_weights(previous, recent, beta=0.0, variant=variant).tolist() == pytest.approx([1.0] * 3)


def test_softadapt_unknown_variant_names_the_choices():
    with pytest.raises(LongtailError, match="unknown SoftAdapt variant 'raw'; choose one of: normalized, loss_weighted"):
        losses.softadapt_weights(torch.ones(3), torch.ones(3), 0.1, "raw")


def test_softadapt_loss_recomputes_its_weights_every_block():
    loss = losses.SoftAdapt(temperature=4, beta=1.0, every=2, variant="loss_weighted")
    logits, y, teacher = batch()
    values = losses.parts(logits, y, teacher, 4)
    assert loss(logits, y, teacher).item() == pytest.approx(values.sum().item(), rel=1e-5)  # weights 1 first
    for _ in range(3):
        loss(logits, y, teacher)
    # Two blocks of the same values: no part changes, so the weights follow the parts' levels.
    assert loss.weights.tolist() == pytest.approx((3 * values / values.sum()).tolist(), rel=1e-5)
    assert loss(logits, y, teacher).item() == pytest.approx((loss.weights @ values).item(), rel=1e-5)


def test_softadapt_and_multipart_train_at_the_same_step_size():
    # Before SoftAdapt has two blocks, and whenever its weights are equal, it is multipart exactly.
    logits, y, teacher = batch()
    soft = losses.SoftAdapt(temperature=4, beta=0.1, every=10)
    assert soft(logits, y, teacher).item() == pytest.approx(losses.multipart(logits, y, teacher, temperature=4).item(),
                                                            rel=1e-6)


def test_make_binds_the_params(root):
    shipped = params.section(params.read(root / "params.yaml"), "compress", params.Compress)
    cfg = dataclasses.replace(shipped, focal_gamma=0.0, kd_temperature=2.0, kd_ce_weight=1.0, kd_weight=0.0)
    logits, y, teacher = batch()
    assert losses.make("focal", cfg)(logits, y, None).item() == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert losses.make("kd", cfg)(logits, y, teacher).item() == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert isinstance(losses.make("softadapt", cfg), losses.SoftAdapt)
    assert losses.make("softadapt", dataclasses.replace(shipped, softadapt_variant="loss_weighted")).variant == "loss_weighted"


def test_unknown_loss_names_the_choices():
    with pytest.raises(LongtailError, match="unknown loss 'fcoal'; choose one of: ce, focal, kd, multipart, softadapt"):
        losses.make("fcoal")
