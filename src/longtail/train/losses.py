"""Recovery losses for fine-tuning a compressed model (Joseph et al. 2020's family).

Every loss is called as loss(logits, y, teacher): the student's logits [B, C], the labels [B] and the
uncompressed reference's logits on the same batch [B, C] (None for ce and focal, which ignore them),
and returns a scalar averaged over the batch.
"""

from functools import partial

import torch
import torch.nn.functional as F

from longtail import LongtailError


def cross_entropy(logits, y, teacher=None):
    """CE = -log p_true."""
    return F.cross_entropy(logits, y)


def focal(logits, y, teacher=None, *, gamma: float = 2.0):
    """Focal loss (Lin et al. 2017): (1 - p_true)^gamma * (-log p_true); gamma = 0 is CE."""
    log_p = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    return ((1 - log_p.exp()) ** gamma * -log_p).mean()


def distillation(logits, teacher, temperature: float):
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)) (Hinton et al. 2015; T^2 keeps its
    gradients on the scale of CE's as T grows)."""
    student = F.log_softmax(logits / temperature, dim=1)
    target = F.log_softmax(teacher / temperature, dim=1)
    return temperature**2 * F.kl_div(student, target, reduction="batchmean", log_target=True)


def logit_mse(logits, teacher):
    """Mean squared difference between student and teacher logits, over batch and classes."""
    return F.mse_loss(logits, teacher)


def parts(logits, y, teacher, temperature: float) -> torch.Tensor:
    """The three parts of multipart and softadapt, stacked: [CE, KD, MSE]."""
    return torch.stack([cross_entropy(logits, y), distillation(logits, teacher, temperature),
                        logit_mse(logits, teacher)])


def kd(logits, y, teacher, *, temperature: float = 4.0, ce_weight: float = 0.6, kd_weight: float = 0.4):
    """The group-sparsity baseline: ce_weight * CE + kd_weight * T^2 * KL."""
    return ce_weight * cross_entropy(logits, y) + kd_weight * distillation(logits, teacher, temperature)


def multipart(logits, y, teacher, *, temperature: float = 4.0, weights=(1.0, 1.0, 1.0)):
    """weights . [CE, KD, MSE]. Joseph et al. (2020) recover a compressed model with a multi-part
    loss of this family, knowledge-distillation terms beside CE, whose weights they tune; the three
    parts and the equal default weights here are our choice, not their published recipe (README)."""
    return torch.as_tensor(weights, dtype=logits.dtype, device=logits.device) @ parts(logits, y, teacher, temperature)


SOFTADAPT_VARIANTS = ("normalized", "loss_weighted")


def softadapt_weights(previous: torch.Tensor, recent: torch.Tensor, beta: float,
                      variant: str = "normalized") -> torch.Tensor:
    """SoftAdapt's weights (Heydari et al. 2019) from each part's recorded value in the last two
    blocks, scaled to sum to the number of parts K (so that softadapt trains at multipart's step size):

        s_k = recent_k - previous_k                      the rate of change of part k
        normalized     alpha_k = K softmax(beta s_k / sum_l |s_l|)       (Section 3.1.3, the variant
                       they recommend: slopes of any scale compared on one)
        loss_weighted  alpha_k = K f_k exp(beta s_k) / sum_l f_l exp(beta s_l),  f_k = recent_k

    With beta > 0 a part that improves slowly (s_k near zero or positive) gains weight. The authors'
    package divides the slopes by their signed sum; that flips every slope's sign whenever the parts
    all fall (their sum is negative), favouring the fastest-falling part, so this follows the paper's
    absolute sum. Where no part changed, the normalized weights are equal."""
    if variant not in SOFTADAPT_VARIANTS:
        raise LongtailError(f"unknown SoftAdapt variant {variant!r}; choose one of: {', '.join(SOFTADAPT_VARIANTS)}")
    s = recent - previous
    if variant == "normalized":
        scale = s.abs().sum()
        return len(s) * torch.softmax(beta * (s / scale if scale > 0 else torch.zeros_like(s)), 0)
    s = beta * s
    w = recent * torch.exp(s - s.max())  # shifting s by a constant leaves the ratio unchanged
    return len(w) * (w / w.sum() if w.sum() > 0 else torch.full_like(w, 1 / len(w)))


class SoftAdapt:
    """multipart's parts weighted by SoftAdapt. Each part's value is recorded as its mean over a block
    of `every` steps; after each block the weights are recomputed from the last two blocks. Until two
    blocks are recorded every part weighs 1, as in multipart's default."""

    def __init__(self, *, temperature: float = 4.0, beta: float = 0.1, every: int = 10, variant: str = "normalized"):
        self.temperature, self.beta, self.every, self.variant = temperature, beta, every, variant
        self.weights = torch.ones(3)
        self.block, self.recorded = [], []

    def __call__(self, logits, y, teacher):
        values = parts(logits, y, teacher, self.temperature)
        self.block.append(values.detach().cpu())
        if len(self.block) == self.every:
            self.recorded.append(torch.stack(self.block).mean(0))
            self.block = []
            if len(self.recorded) >= 2:
                self.weights = softadapt_weights(self.recorded[-2], self.recorded[-1], self.beta, self.variant)
        return self.weights.to(values) @ values


LOSSES = ("ce", "focal", "kd", "multipart", "softadapt")
USES_TEACHER = ("kd", "multipart", "softadapt")


def make(name: str, cfg=None):
    """The loss `name` with its params bound from the compress section `cfg` (params.Compress)."""
    if name not in LOSSES:
        raise LongtailError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    if name == "ce":
        return cross_entropy
    if name == "focal":
        return partial(focal, gamma=cfg.focal_gamma)
    if name == "kd":
        return partial(kd, temperature=cfg.kd_temperature, ce_weight=cfg.kd_ce_weight, kd_weight=cfg.kd_weight)
    if name == "multipart":
        return partial(multipart, temperature=cfg.kd_temperature, weights=(cfg.multipart_ce, cfg.multipart_kd, cfg.multipart_mse))
    return SoftAdapt(temperature=cfg.kd_temperature, beta=cfg.softadapt_beta, every=cfg.softadapt_every,
                     variant=cfg.softadapt_variant)
