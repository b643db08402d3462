"""distill: a thinner student of the reference's family (models.SCALABLE, `compress.width` of its
width), trained from scratch with the reference's recipe and the reference as teacher
(compress.loss one that uses it: losses.USES_TEACHER)."""

import torch

from longtail import seeds
from longtail.compress.method import Job, Level, Method
from longtail.train import losses, models, training


def levels(job: Job):
    """The student, trained from an initialisation and data order of its own seed streams."""
    torch.manual_seed(seeds.derive(job.seed, seeds.COMPRESS, 4))
    student = models.build(job.spec["arch"], tuple(job.x.shape[1:]), job.spec["num_classes"],
                           width=job.cfg.width).to(job.x.device)
    training.train(student, job.x, job.y, job.reference_recipe, loss=losses.make(job.cfg.loss, job.cfg),
                   teacher=job.reference, generator=seeds.generator(job.seed, seeds.COMPRESS, 5),
                   on_epoch=job.curve("distill"))
    yield Level(None, student, student)


METHOD = Method("distill", levels, teacher=True, knobs=("width",))
