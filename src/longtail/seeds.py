"""The seed streams. Every random draw of the pipeline derives from params.yaml's `seed` through
this table, so that no two uses draw the same numbers and any one of them (trial k, member m) can
be replayed alone. A stream is the tuple after the seed; its first number names the use:

    stream                   draws                                            where
    (MASKS)                  the trials' subset masks (numpy)                 trials.sample_masks
    (TRIALS, k, 0)           trial k's initialisation                         trials.init_models
    (TRIALS, k, 1)           trial k's data order                             trials.data_order
    (TRIALS, s, 2)           the shared seed of trial set s >= 1 (the         trials.stream_seed
                             consistency check's second architecture)
    (REFERENCE, 0)           the reference's initialisation                   train.reference       
    (REFERENCE, 1)           the reference's data order                       train.reference       
    (COMPRESS, 1)            recovery fine-tuning's data order                compress.method.Job
    (COMPRESS, 2)            group_sparsity's sparsify phase data order       compress.group_sparsity
    (COMPRESS, 3)            quantize's calibration examples                  compress.quantize
    (COMPRESS, 4)            distill's student initialisation                 compress.distill
    (COMPRESS, 5)            distill's data order                             compress.distill
    (POPULATIONS, m)         PIE member m's seed, which then goes through     member
                             REFERENCE and COMPRESS as the pipeline's does
    (FLIPS)                  planted label flips (numpy)                      planted.flip_labels
    (SUBSET, 0), (SUBSET, 1) the training and test subsets of data.train_size    datasets.subset
                             and data.test_size (numpy)
    (SPLITS, 0)              the groups of trials of the reliabilities' spread   uncertainty.split_half_spread
    (SPLITS, i), i >= 1      the (i-1)-th further split-half's choice of groups   (halves.grouped; numpy)
    (NULL)                   the influence-free null's joint permutations of     stages/influence_free.py
                             the trials against the masks (numpy), and of the
                             estimate's null for soft targets (null.influence_free)
    (NULL, 1)                the permutations of the null by counts (numpy)      null.by_count
    (NULL, 2)                the uniform sample of test examples drawn jointly   null.sample_columns
    (HOLDOUT)                the trials held out for the counterfactual check    counterfactual.holdout
                             (numpy)
    (STOPPING)               trials.until's split-half of the reliabilities       stopping.measure
                             (numpy), apart from the one the estimate publishes,
                             so that the published reliability is not the one the
                             rule stopped on (optional stopping)

The seed itself, with no stream, seeds the few draws that are each a stage's only one: the
digits and synthetic test split and the synthetic set (data.py), the split-half of the
reliabilities (halves.halves; its `split_seed` is written to metrics/estimate.json), and in
ttest, group n's bootstrap, random control and permutations (seed + n).
"""

import numpy as np

MASKS, TRIALS, REFERENCE, COMPRESS, POPULATIONS, FLIPS, SUBSET, SPLITS, NULL, HOLDOUT, STOPPING = range(11)


def derive(seed: int, *stream: int) -> int:
    """An independent 32-bit seed for (seed, *stream)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def generator(seed: int, *stream: int) -> "torch.Generator":
    """A torch generator seeded for (seed, *stream): data orders, augmentations, calibration draws."""
    import torch  # here, so that the stages that do not train (prepare's label flips) need no torch

    return torch.Generator().manual_seed(derive(seed, *stream))


def member(seed: int, m: int) -> int:
    """The seed of PIE population member m: its reference is trained, and then compressed, with it."""
    return derive(seed, POPULATIONS, m)
