"""Compression impacted exemplars (Dam et al. 2023): test examples where the reference and the
compressed model disagree.

    cie            reference_pred != compressed_pred
    cie_u          the reference is right, the compressed model wrong (the compression hurt)
    cie_c          the compressed model is right, the reference wrong (the compression helped)
    cie_both_wrong they disagree and both are wrong
    cie = cie_u | cie_c | cie_both_wrong, the three disjoint.
"""

import numpy as np

from longtail import LongtailError

KINDS = ("cie", "cie_u", "cie_c", "cie_both_wrong")  # the masks of data/cie/masks.npz
# The groups the ttest stage tests (questions.groups), in words; the PIEs are pie.py's.
GROUPS = {"cie": "CIEs (the two models disagree)", "cie_u": "CIE-U (the compression hurt)",
          "cie_c": "CIE-C (the compression helped)", "pie": "PIEs (the populations' modal labels differ)",
          "shifted": "the most shifted (graded CIEs: the populations' votes moved most)"}


def cie_masks(reference_pred: np.ndarray, compressed_pred: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    if not (reference_pred.shape == compressed_pred.shape == y.shape) or y.ndim != 1:
        raise LongtailError(
            f"predictions and labels must be 1-d of one length; got reference {reference_pred.shape}, "
            f"compressed {compressed_pred.shape}, labels {y.shape}"
        )
    ref_right, comp_right = reference_pred == y, compressed_pred == y
    cie = reference_pred != compressed_pred
    return {
        "cie": cie,
        "cie_u": ref_right & ~comp_right,
        "cie_c": comp_right & ~ref_right,
        "cie_both_wrong": cie & ~ref_right & ~comp_right,
    }
