"""Compression: the methods of `compress.method`, a module each that owns its compress -> recover
sequence (magnitude, group_sparsity, quantize, distill; what a method is: method; their registry:
methods), the recipe that runs the chosen one on a reference (recipe), what a network costs (size)
and what a compression did (measure)."""
