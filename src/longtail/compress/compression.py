"""Compressing a trained reference model: the methods of `compress.method`.

group_sparsity  The seed paper's scheme (after Li et al. 2020): a sparsify phase trains with a
                group-lasso penalty, lambda * sum_c ||G_c||_2, where G_c gathers every parameter tied
                to output channel c (its filter, its BatchNorm scale and shift, the next layer's
                input weights that read it). The channels with the smallest group norms are then
                removed, physically, by Torch-Pruning's DependencyGraph, until the network's FLOPs
                are `target_flops` of the reference's; the stage then fine-tunes it with the loss.
                Channels joined by a residual addition, and the logits, are never removed, so the
                residual connections stay consistent.
magnitude       Global unstructured magnitude pruning (Han et al. 2015; the setting of Hooker et al.
                2019): the `sparsity` share of all conv and linear weights with the smallest |w| is
                set to zero, across layers at once. The masks stay in place during fine-tuning.
quantize        int8 post-training static quantization (torch.ao, FX graph mode, x86 backend):
                activation ranges calibrated on training examples; runs on the CPU; no fine-tuning.
distill         A thinner student of the same family (models.SCALABLE, `width`), trained from scratch
                with the reference as teacher.
"""

import copy
import io
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune
from torch.utils.flop_counter import FlopCounterMode

from longtail import LongtailError

METHODS = ("group_sparsity", "magnitude", "quantize", "distill")


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """The (module, 'weight') pairs that pruning acts on: every conv and linear layer; biases stay."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


# --- measuring ---------------------------------------------------------------------------------


@torch.no_grad()
def flops(model: nn.Module, in_shape) -> int:
    """FLOPs of one forward pass on one example, counted by torch on the actual network (a
    multiply-add is 2)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *in_shape, device=device))
    model.train(was_training)
    return int(counter.get_total_flops())


def size_bytes(model: nn.Module) -> int:
    """Bytes of the model's state dict as torch.save writes it (int8 weights count one byte each)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def footprint(model: nn.Module, in_shape) -> dict:
    """Parameters (all, and nonzero), FLOPs of one example and size in bytes of a float model."""
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "nonzero_parameters": sum(int(p.count_nonzero()) for p in model.parameters()),
        "flops": flops(model, in_shape),
        "size_bytes": size_bytes(model),
    }


# --- magnitude ---------------------------------------------------------------------------------


def magnitude_prune(model: nn.Module, sparsity: float) -> nn.Module:
    """Zero exactly round(sparsity * n) of the n prunable weights, the smallest in magnitude, globally.

    Leaves torch's pruning masks attached (so fine-tuning keeps the zeros); call `finalize` after.
    """
    if not 0 <= sparsity < 1:
        raise LongtailError(f"sparsity = {sparsity} must satisfy 0 <= sparsity < 1")
    prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=sparsity)
    return model


def finalize(model: nn.Module) -> nn.Module:
    """Fold the pruning masks into the weights, leaving a plain module with zeros in it."""
    for module, name in prunable(model):
        if prune.is_pruned(module):
            prune.remove(module, name)
    return model


@torch.no_grad()
def weights_kept(model: nn.Module) -> float:
    """Share of prunable weights that are nonzero."""
    weights = [getattr(m, name) for m, name in prunable(model)]
    return sum(int(w.count_nonzero()) for w in weights) / sum(w.numel() for w in weights)


# --- group sparsity ----------------------------------------------------------------------------


@dataclass
class Channels:
    """The output channels of one layer as groups: member (param, dim, idxs, channel of each idx)
    slices hold everything that channel c touches."""

    layer: str  # the producing layer's name in model.named_modules()
    count: int
    members: list[tuple[nn.Parameter, int, torch.Tensor, torch.Tensor]]

    def norms(self) -> torch.Tensor:
        """||G_c||_2 for every channel c, differentiable."""
        squares = torch.zeros(self.count, device=self.members[0][0].device)
        for param, dim, idxs, channel in self.members:
            part = param.index_select(dim, idxs).pow(2).movedim(dim, 0).reshape(len(idxs), -1).sum(1)
            squares = squares.index_add(0, channel, part)
        return squares.add(1e-12).sqrt()  # the epsilon keeps the gradient finite at zero

    def size(self) -> int:
        """Parameters per channel, for comparing norms across layers (their RMS)."""
        return sum(p.numel() // p.shape[dim] * len(i) for p, dim, i, _ in self.members) // self.count


def _graph(model: nn.Module, in_shape):
    import torch_pruning as tp

    device = next(model.parameters()).device
    with torch.enable_grad():  # the graph is traced through autograd
        return tp.DependencyGraph().build_dependency(model, example_inputs=torch.zeros(1, *in_shape, device=device))


def _group(graph, module: nn.Module, idxs: list[int]):
    return graph.get_pruning_group(module, graph.get_pruner_of_module(module).prune_out_channels, idxs=idxs)


def channel_groups(model: nn.Module, in_shape) -> list[Channels]:
    """Every layer whose output channels can go: conv and linear layers but the last (the logits),
    whose channels feed no residual addition (a group with one producing layer)."""
    graph = _graph(model, in_shape)
    names = {m: name for name, m in model.named_modules()}
    result = []
    for module, _ in prunable(model)[:-1]:
        count = module.weight.shape[0]
        group = _group(graph, module, list(range(count)))
        producers = {dep.target.module for dep, _ in group if graph.is_out_channel_pruning_fn(dep.handler)
                     and isinstance(dep.target.module, (nn.Conv2d, nn.Linear))}
        if producers != {module}:
            continue
        members = []
        for item in group.items:
            target, idxs = item.dep.target.module, list(item.idxs)
            channel = torch.as_tensor(list(item.root_idxs), device=module.weight.device)
            idxs = torch.as_tensor(idxs, device=module.weight.device)
            out = graph.is_out_channel_pruning_fn(item.dep.handler)
            if isinstance(target, (nn.Conv2d, nn.Linear)):
                members.append((target.weight, 0 if out else 1, idxs, channel))
                if out and target.bias is not None:
                    members.append((target.bias, 0, idxs, channel))
            elif isinstance(target, nn.modules.batchnorm._BatchNorm) and target.affine:
                members += [(target.weight, 0, idxs, channel), (target.bias, 0, idxs, channel)]
        result.append(Channels(names[module], count, members))
    if not result:
        raise LongtailError("group_sparsity found no channels it can remove in this network "
                            "(every layer is joined to a residual addition or produces the logits)")
    return result


def group_lasso(groups: list[Channels]):
    """The sparsify phase's penalty without lambda: sum over all channels of ||G_c||_2."""
    return lambda: sum(g.norms().sum() for g in groups)


def remove_channels(model: nn.Module, in_shape, target_flops: float) -> nn.Module:
    """A copy of `model` with the fewest channels removed that brings its FLOPs to at most
    target_flops times the original's. Channels go in order of their group norm's RMS, smallest
    first, across all layers; each layer keeps at least one."""
    groups = channel_groups(model, in_shape)
    order = []  # (score, layer, channel), every layer's strongest channel left out
    for g in groups:
        with torch.no_grad():
            scores = (g.norms() / g.size() ** 0.5).tolist()
        order += sorted((s, g.layer, c) for c, s in enumerate(scores))[:-1]
    order.sort()
    full = flops(model, in_shape)
    budget = target_flops * full

    def pruned(m: int) -> nn.Module:
        smaller = copy.deepcopy(model)
        modules, graph = dict(smaller.named_modules()), _graph(smaller, in_shape)
        for g in groups:
            idxs = [c for _, layer, c in order[:m] if layer == g.layer]
            if idxs:
                _group(graph, modules[g.layer], idxs).prune()
        return smaller

    low, high = 0, len(order)  # the answer lies in [low, high]: the smallest m within the budget
    least = flops(pruned(high), in_shape)
    if least > budget:
        raise LongtailError(f"compress.target_flops = {target_flops} is out of reach: removing every "
                            f"removable channel leaves {least / full:.2f} of the FLOPs; raise the target")
    while low < high:
        mid = (low + high) // 2
        if flops(pruned(mid), in_shape) <= budget:
            high = mid
        else:
            low = mid + 1
    return pruned(low)


# --- quantization ------------------------------------------------------------------------------


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
