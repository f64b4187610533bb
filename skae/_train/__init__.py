"""Training: the staged loop (:mod:`.loop`) and its learning-rate schedules
(:mod:`.schedules`). It drives the networks of :mod:`skae._nn` on the rows of
:mod:`skae._data`; it never imports scikit-learn or the estimators."""
