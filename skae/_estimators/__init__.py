"""The estimators: scikit-learn transformers composed of the layers below
(:mod:`skae._train`, :mod:`skae._nn`, :mod:`skae._data`)."""
