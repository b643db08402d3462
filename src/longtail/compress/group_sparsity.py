"""group_sparsity: the seed paper's scheme (after Li et al. 2020). A sparsify phase trains with a
group-lasso penalty, lambda * sum_c ||G_c||_2, where G_c gathers every parameter tied to output
channel c (its filter, its BatchNorm scale and shift, the next layer's input weights that read it).
The channels with the smallest group norms are then removed, physically, by Torch-Pruning's
DependencyGraph, until the network's FLOPs are `compress.target_flops` of the reference's; the
recovery loss then fine-tunes it. Channels joined by a residual addition, and the logits, are never
removed, so the residual connections stay consistent."""

import copy
import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from longtail import LongtailError, seeds
from longtail.compress.method import Job, Level, Method
from longtail.compress.size import flops, prunable
from longtail.train import training


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


def levels(job: Job):
    """Sparsify with the group lasso (compress.sparsify_epochs of the recovery recipe at
    group_lambda), remove channels down to target_flops, recover."""
    cfg, in_shape = job.cfg, tuple(job.x.shape[1:])
    model = copy.deepcopy(job.reference)
    penalty = group_lasso(channel_groups(model, in_shape))
    training.train(model, job.x, job.y, dataclasses.replace(cfg.recipe(), epochs=cfg.sparsify_epochs),
                   penalty=lambda: cfg.group_lambda * penalty(), generator=seeds.generator(job.seed, seeds.COMPRESS, 2),
                   on_epoch=job.curve("sparsify"))
    model = job.recover(remove_channels(model, in_shape, cfg.target_flops), "recovery")
    yield Level(None, model, model)


METHOD = Method("group_sparsity", levels, knobs=("target_flops", "group_lambda", "sparsify_epochs"))
