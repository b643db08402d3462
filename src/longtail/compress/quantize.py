"""quantize: int8 post-training static quantization (torchao's PT2E flow, x86 backend): activation
ranges calibrated on `compress.calibration_size` training examples; runs on the CPU; no fine-tuning
(compress.loss none)."""

import copy
import warnings

import torch
from torch import nn

from longtail import seeds
from longtail.compress.method import Job, Level, Method


class Int8(nn.Module):
    """A float model quantized to int8 by torchao's PT2E flow. `lowered` runs it: onednn's int8
    kernels (x86), compiled for batches of exactly `batch` examples, so forward pads the last
    batch; `quantized` is the model convert_pt2e made, whose int8 weights are what state_dict and so
    size_bytes report (the lowered kernels keep them in an opaque packed form)."""

    def __init__(self, lowered: nn.Module, quantized: nn.Module, batch: int, int8_kernels: bool):
        super().__init__()
        self.lowered, self.quantized, self.batch, self.int8_kernels = lowered, quantized, batch, int8_kernels

    def train(self, mode: bool = True):  # an exported module refuses train()/eval(): it is fixed in eval
        self.training = mode
        return self

    def state_dict(self, *args, **kwargs):
        """The tensors the quantized graph reads: int8 weights, their scales and zero points, float
        biases (convert_pt2e leaves the unused float weights on the module too; they are not the model)."""
        used = {n.target for n in self.quantized.graph.nodes if n.op == "get_attr"}
        return {k: v for k, v in self.quantized.state_dict(*args, **kwargs).items() if k in used}

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for chunk in x.split(self.batch):
            padded = torch.cat([chunk, chunk.new_zeros((self.batch - len(chunk), *chunk.shape[1:]))])
            out.append(self.lowered(padded)[: len(chunk)])
        return torch.cat(out)


@torch.no_grad()
def quantize(model: nn.Module, calibration: torch.Tensor, batch: int = 256) -> Int8:
    """int8 post-training static quantization of a float model, run on the CPU, through torchao's
    PT2E flow: torch.export, prepare_pt2e with the x86 quantizer (per-channel int8 weights, int8
    activations), calibration of the activation ranges on `calibration` inputs, convert_pt2e, then
    lowered to onednn's int8 kernels. Where they cannot be lowered (a CPU without them) the
    converted model runs instead, with a warning: its quantize and dequantize ops simulate int8."""
    from torchao.quantization.pt2e.lowering import lower_pt2e_quantized_to_x86
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer, get_default_x86_inductor_quantization_config)

    model = copy.deepcopy(model).cpu().eval()
    calibration = calibration.cpu()
    # a batch of two (export specializes a batch of one): the batch dimension stays dynamic
    example = calibration[:1].repeat(2, *[1] * (calibration.dim() - 1))
    exported = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    for chunk in calibration.split(batch):
        prepared(chunk)
    quantized = convert_pt2e(prepared)
    try:
        lowered, kernels = lower_pt2e_quantized_to_x86(quantized, (calibration.new_zeros(batch, *example.shape[1:]),)), True
        # onednn's int8 convolutions return channels-last tensors, which a flatten's view cannot
        # take: reshape is the same op where a view works and copies where it cannot.
        for node in lowered.graph.nodes:
            if node.target == torch.ops.aten.view.default:
                node.target = torch.ops.aten.reshape.default
        lowered.recompile()
    except Exception as e:  # noqa: BLE001 -- any failure to lower leaves the converted model, said
        warnings.warn(f"int8 kernels unavailable here ({type(e).__name__}: {e}); the quantized model runs "
                      "simulated int8 (quantize/dequantize around float ops)", stacklevel=2)
        lowered, kernels = quantized, False
    return Int8(lowered, quantized, batch, kernels)


def levels(job: Job):
    """The reference itself (its float size measured) and its int8 version, which predicts."""
    order = torch.randperm(len(job.x), generator=seeds.generator(job.seed, seeds.COMPRESS, 3))
    yield Level(None, job.reference, quantize(job.reference, job.x[order[: job.cfg.calibration_size]]))


METHOD = Method("quantize", levels, fine_tunes=False, knobs=("calibration_size",))
