"""The recipes of the reference and compress stages: train a reference model, compress it
(`compress.method`) and recover its accuracy by fine-tuning with `compress.loss`. Shared by those
stages and the PIE populations (stages/reference_population.py, stages/populations.py), so that a
population member is trained and compressed exactly as the pipeline's own reference is.

Every random draw derives from `seed` (training.REFERENCE and training.COMPRESS streams); a
population member passes its own seed, so that it differs from the other members.
"""

import copy

import torch

from longtail import compression, losses, models, training


def reference_model(arch: str, recipe: dict, x, y, num_classes: int, seed: int, init: str = "torch") -> torch.nn.Module:
    """`arch` trained from scratch on all of (x, y) with `recipe`; its initialisation (`init`, one of
    models.INITS) and data order come from `seed` alone."""
    torch.manual_seed(training.derive_seed(seed, training.REFERENCE, 0))
    model = models.build(arch, tuple(x.shape[1:]), num_classes, init=init).to(x.device)
    return training.train(model, x, y, generator=training.generator(seed, training.REFERENCE, 1), **recipe)


def predict(measured, evaluated, x) -> torch.Tensor:
    """Predictions of a compressed model on x, on x's device. An int8 model (evaluated is not the
    float model measured) runs on the CPU whatever the device."""
    on = x.device if evaluated is measured else torch.device("cpu")
    return training.predict(evaluated, x.to(on)).to(x.device)


def label(method: str, level: float | None) -> str:
    """The name of one compressed model: `sparsity_0_9` for a magnitude level, else the method."""
    return method if level is None else f"sparsity_{level:g}".replace(".", "_")


def recover(model, cfg, x, y, teacher, seed, stream):
    """Fine-tune `model` with the recovery loss (the reference as teacher where the loss uses one)."""
    return training.train(model, x, y, loss=losses.make(cfg.loss, cfg), generator=training.generator(seed, *stream),
                          teacher=teacher if cfg.loss in losses.USES_TEACHER else None, **cfg.recipe())


def compressed_models(reference, spec, cfg, reference_recipe, x, y, seed):
    """(level, float model, model to evaluate) for each compressed model the params ask for: one per
    sparsity for magnitude (level = the sparsity), one otherwise (level None). The float model is
    what gets measured; for quantize the evaluated one is its int8 version, which runs on the CPU."""
    in_shape = tuple(x.shape[1:])
    if cfg.method == "magnitude":
        for sparsity in cfg.sparsities:
            model = compression.magnitude_prune(copy.deepcopy(reference), sparsity)
            model = compression.finalize(recover(model, cfg, x, y, reference, seed, (training.COMPRESS, 1)))
            yield sparsity, model, model
    elif cfg.method == "group_sparsity":
        model = copy.deepcopy(reference)
        groups = compression.channel_groups(model, in_shape)
        penalty = compression.group_lasso(groups)
        training.train(model, x, y, penalty=lambda: cfg.group_lambda * penalty(),
                       generator=training.generator(seed, training.COMPRESS, 2),
                       **(cfg.recipe() | {"epochs": cfg.sparsify_epochs}))
        model = compression.remove_channels(model, in_shape, cfg.target_flops)
        model = recover(model, cfg, x, y, reference, seed, (training.COMPRESS, 1))
        yield None, model, model
    elif cfg.method == "quantize":
        order = torch.randperm(len(x), generator=training.generator(seed, training.COMPRESS, 3))
        yield None, reference, compression.quantize(reference, x[order[: cfg.calibration_size]])
    else:  # distill: a thinner student, trained from scratch with the reference's recipe
        torch.manual_seed(training.derive_seed(seed, training.COMPRESS, 4))
        student = models.build(spec["arch"], in_shape, spec["num_classes"], width=cfg.width).to(x.device)
        training.train(student, x, y, loss=losses.make(cfg.loss, cfg), teacher=reference,
                       generator=training.generator(seed, training.COMPRESS, 5), **reference_recipe)
        yield None, student, student
