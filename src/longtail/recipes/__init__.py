"""The recipes of the pipeline's models, shared by its stages and the PIE populations, so that a
population member is trained and compressed exactly as the pipeline's own reference is:

- reference: the uncompressed reference model, trained from scratch;
- compress: a reference compressed (`compress.method`) and recovered (`compress.loss`);
- measure: a compression's accuracy, size and FLOPs against its reference.

Separate modules, so that a change to the compression recipe never retrains a reference."""
