"""Estimates from the trials' arrays, arrays in and arrays out: influence and memorization
(influence), every per-example estimate with its uncertainty (estimates, uncertainty, halves), the
influence-free null (null), the counterfactual check (counterfactual) and the consistency check
across architectures (consistency)."""
