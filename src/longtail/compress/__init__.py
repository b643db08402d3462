"""Compression: what each method does to a network (compression), the recipe that compresses a
reference and recovers it (recipe), and what a compression did (measure)."""
