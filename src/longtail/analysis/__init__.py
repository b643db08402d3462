"""Where the compressed model errs and whether it is the long tail: the CIEs (cie), the PIEs of
populations (pie), the group tests (questions: Q1, Q2 and the paper's t; matched; stats), and the
experiments of a sweep side by side (experiments)."""
