"""The networks: layers, likelihoods, models and their builders, objectives,
input corruptions, the principal (PCA) path and batch-invariant products.

Pure torch: nothing here imports scikit-learn or the estimators; the data
layer (:mod:`skae._data`) is the only other part of skae it reads (the
scaling constants of a corruption, the rows of the principal axes).
"""
