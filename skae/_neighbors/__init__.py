"""Neighbour graphs, their UMAP-style layouts and the objective that teaches
an encoder a layout (pure torch and scipy, no scikit-learn import)."""
