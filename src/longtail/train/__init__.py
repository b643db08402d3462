"""Training: the networks (models), the recipe and its losses (recipe, losses, training), the trials
of Feldman & Zhang (trials, trained K at a time by engine, stopped by stopping), the reference
model (reference), whether the trials fit their subsets (fitted) and the training curves (curves)."""
