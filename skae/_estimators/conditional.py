"""Conditional variational autoencoder: a VAE whose encoder and decoder see a label.

The label travels with the rows: ``fit`` appends the one-hot columns of ``y``
to ``X``, so the training loop, the objectives and the inference tiles work
on rows ``[x, onehot(y)]`` as they are, and the module
(:class:`skae._nn.models.ConditionalVAE`) splits them off. Methods called
without a label marginalise it over the classes (see the class docstring).
"""

from __future__ import annotations

import copy
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from scipy.special import ndtr
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_y, check_consistent_length, check_is_fitted

from .._data.scaling import fit_scaling
from .._nn.builders import build_vae
from .._nn.exemplars import LabelExemplarPrior
from .._nn.priors import LabelGaussianPrior, StandardNormalPrior
from . import defaults
from .checks import _check_n_samples, _is_auto, _transaction, output_dtype
from .docstrings import section
from .gate import gated
from .labels import _LabelsMixin, mixture
from .vae import VAETransformer

# Elements of the prior's log-densities held at once by _prior_log_prob.
_PRIOR_ELEMENTS = 1 << 22
_TINY = float(np.finfo(np.float32).tiny)


class ConditionalVAETransformer(_LabelsMixin, VAETransformer):
    """Conditional variational autoencoder (Sohn et al., 2015) as a transformer.

    A :class:`VAETransformer` whose encoder and decoder also see a class
    label: ``fit(X, y)`` learns q(z|x, y) and p(x|z, y), so that the code z
    holds what the label does not say (for digits: the style of the stroke)
    and ``sample(y=...)`` generates data of chosen classes. The prior of the
    codes is fitted to each class's codes (``prior="auto"``, see
    ``prior``): the networks train with N(0, I), then p(z|y) becomes the
    mixture of the posteriors q(z|x, y) of ``n_pseudo_inputs`` of class y's
    training rows, its exemplars (an estimate of the class's aggregate
    posterior). With N(0, I) alone, codes of 8 or more dimensions also
    carry the class, the decoder leans on them, and codes drawn from
    N(0, I) decode to other classes: at 16 dimensions, 0.743 of MNIST
    samples showed the requested digit, 0.975 with a Gaussian fitted to
    each class's codes (``prior="class"``) and 0.993 with the exemplars
    (a CNN judge; ``benchmarks/bench_generative.py``). The label
    enters as
    the one-hot vector of the classes seen in ``fit`` (``classes_``): the
    posterior heads see the encoder trunk's features and the label, the
    decoder sees ``[z, onehot(y)]``; every ``architecture`` works unchanged
    (see :class:`skae._nn.models.ConditionalVAE`).

    Every method takes an optional ``y``, keyword-only where the method of
    :class:`VAETransformer` has no ``y`` (``transform(X, y=y)``,
    ``sample(n, y=...)``), so that positional arguments mean what they mean
    for the VAE. With ``y`` it conditions on it:
    ``transform`` returns the posterior mean of q(z|x, y), ``score_samples``
    the ELBO of log p(x|y), ``inverse_transform`` the mean of p(x|z, y).
    Without ``y`` the label is marginalised with the class frequencies of
    the training data, p(y) (``class_prior_``):

    * ``score_samples(X)`` is ``log sum_y p(y) exp(ELBO(x, y))``, a lower
      bound on log p(x);
    * ``transform(X)`` is the mean of the posterior over z that goes with
      this bound: the mixture ``sum_y q(y|x) q(z|x, y)`` whose weights
      ``q(y|x) = p(y) exp(ELBO(x, y)) / sum_y' p(y') exp(ELBO(x, y'))``
      (``class_posterior``) make the bound tight, i.e. the posterior means
      of all classes averaged with the weights the model gives each class
      for that row. It is a smooth function of x (a hard choice of the best
      class would jump between classes) and equals ``transform(X, y=y)`` for
      rows whose class the model is sure of. A pipeline calls
      ``transform(X)`` at prediction time, where no label exists; so does
      ``fit_transform(X, y)`` (the same codes as ``fit(X, y).transform(X)``),
      so that a pipeline's next step trains on the codes it will see;
    * ``inverse_transform(Z)`` is the mean of p(x|z) = sum_y p(y|z) p(x|z,
      y), with p(y|z) proportional to p(y) p(z|y) (p(y) with the prior
      N(0, I), under which a code says nothing of the label); pass ``y`` to
      decode a class;
    * ``sample(n)`` draws the labels from p(y).

    Labels not seen in ``fit`` raise a ValueError. Computing without ``y``
    costs one ELBO (16 decoder passes) per class and row.

    {parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels seen in ``fit``, sorted; the one-hot columns follow
        this order.

    class_count_ : ndarray of shape (n_classes,)
        Number of training rows of each class (summed over ``partial_fit``
        calls).

    class_prior_ : ndarray of shape (n_classes,)
        Frequency of each class in the training data: p(y) for the methods
        called without ``y`` and for ``sample``.

    module_ : torch.nn.Module
        The trained conditional VAE (:class:`skae._nn.models.ConditionalVAE`),
        reading rows ``[scaled x, onehot(y)]``.

    n_components_ : int
        Dimension of the latent code.

    mean_ : ndarray of shape (n_features,)
        Per-feature offset of the internal scaling (the label is not scaled).

    scale_ : ndarray of shape (n_features,)
        Per-feature scale of the internal scaling.

    loss_curve_ : list of float
        Mean training loss per sample (scaled units, nats) at each epoch.

    validation_loss_curve_ : list of float or None
        Mean validation loss per epoch when ``early_stopping=True``.

    best_loss_ : float
        Best monitored loss.

    n_iter_ : int
        Number of epochs run (each ``partial_fit`` call counts as one).

    posterior_mean_variance_ : ndarray of shape (n_components,)
        Variance over the training rows of the posterior means of q(z|x, y)
        given their labels, per latent dimension.

    active_units_ : int
        Number of latent dimensions whose ``posterior_mean_variance_``
        exceeds 0.01.

    hidden_layer_sizes_, activation_, corruption_, corruption_level_, \
            max_iter_, batch_size_, learning_rate_, learning_rate_init_, \
            beta_, kl_warmup_
        What the parameters of the same names trained with, as for
        :class:`VAETransformer`; "auto" sizes the network from the data's
        columns, not the labels.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``. Defined only when ``X``
        has feature names that are all strings.

    See Also
    --------
    VAETransformer : The unconditional model.

    Notes
    -----
    The label columns are appended to a copy of ``X`` (in ``fit``, and in
    each method, one class at a time without ``y``): a memory-mapped ``X``
    is read into memory. :func:`skae.save` stores the model with its
    ``classes_`` (their dtype included) and class counts, and :func:`skae.load`
    gives it back. ``recommend`` is not available.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import ConditionalVAETransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> cvae = ConditionalVAETransformer(n_components=2, max_iter=5, random_state=0)
    >>> cvae.fit(X, y).transform(X, y=y).shape
    (1797, 2)
    >>> cvae.transform(X).shape
    (1797, 2)
    >>> cvae.sample(3, y=[0, 1, 7], random_state=0).shape
    (3, 64)
    >>> cvae.class_posterior(X[:2]).shape
    (2, 10)
    """

    # Fitted attributes that skae.save writes (skae._io): VAETransformer's, the
    # labels (their dtype included) and their counts.
    _saved_attributes: ClassVar[tuple[str, ...]] = (
        *VAETransformer._saved_attributes,
        "classes_",
        "class_count_",
        "class_prior_",
    )

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y):
        """Fit the model with X and its labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Class labels (any hashable values a classifier accepts). With
            ``warm_start=True`` a second fit keeps ``classes_`` and accepts
            only those labels.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        return super().fit(X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train on X and its labels y for one pass, continuing from the last call.

        As :meth:`VAETransformer.partial_fit`; the first call fixes
        ``classes_``: ``classes`` when given (the labels of all blocks,
        as for scikit-learn's incremental classifiers), else the labels of
        this block. Later blocks may only hold those labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One block of training data.

        y : array-like of shape (n_samples,)
            Its class labels.

        classes : array-like of shape (n_classes,), default=None
            Every label of the stream, on the first call only.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        with _transaction(self), torch.inference_mode(False), torch.enable_grad():
            warm = hasattr(self, "module_")
            self._architecture()
            X = self._validate(X, reset=not warm)
            rows = self._training_rows(X, y, warm, classes, accumulate=True)
            self._partial_fit(rows, warm)
        return self

    def _training_rows(self, X, y, warm: bool, classes=None, accumulate=False):
        """``[X, onehot(y)]``; sets ``classes_`` (from ``classes`` when given)
        and the class counts, this call's or (``accumulate``) all calls'."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target "
                "y is None."
            )
        y = _check_y(y, estimator=self)
        check_consistent_length(X, y)
        check_classification_targets(y)
        if not warm:
            self.classes_ = np.unique(y if classes is None else classes)
            self.class_count_ = np.zeros(len(self.classes_))
        elif classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"classes={classes!r} differs from classes_={self.classes_!r} "
                "of the fitted model."
            )
        index = self._label_index(y)
        counts = np.bincount(index, minlength=len(self.classes_)).astype(np.float64)
        self.class_count_ = self.class_count_ + counts if accumulate else counts
        self.class_prior_ = self.class_count_ / self.class_count_.sum()
        return self._labelled(X, index)

    def _build_module(self, n_features: int):
        n_classes = len(self.classes_)
        return build_vae(
            n_features - n_classes,
            self.n_components,
            self._builder(),
            self.likelihood,
            n_classes,
            self._prior(),
            self.n_pseudo_inputs,
        )

    _conditional = True

    def _auto_rules(self, data: defaults.TrainingData, streaming: bool) -> dict:
        rules = super()._auto_rules(data, streaming)
        rules["beta"] = partial(defaults.beta, data, conditional=True)
        # A warm start keeps the prior it was fitted with (files saved when
        # "auto" meant "class" go on training with it).
        rules["prior"] = self._prior
        return rules

    def _after_fit(self, X, Xs, seed: int) -> None:
        means, variances = self._posterior_moments(X)
        if isinstance(self.module_.prior, LabelGaussianPrior):
            self._match_prior(X, means, variances)
        elif isinstance(self.module_.prior, LabelExemplarPrior):
            self._match_exemplars(X, means, variances, seed)
        self._keep_activity(means)

    def _match_exemplars(
        self, X, means: np.ndarray, variances: np.ndarray, seed: int
    ) -> None:
        """Give each class with training rows in ``X`` the posteriors of M of them.

        The M rows (``n_pseudo_inputs``) are drawn without replacement with
        the fit's seed; a class with fewer rows repeats them, each as often
        (up to one). Classes without rows in ``X`` (a ``partial_fit``
        block) keep theirs; a block's rows replace those of its classes.
        The variances are kept above float32's smallest normal number (a
        log-variance of -87), so that no exemplar has a zero width.
        """
        rng = np.random.RandomState(seed)
        prior = self.module_.prior
        index = np.asarray(X[:, -len(self.classes_) :].argmax(axis=1)).ravel()
        for c in np.unique(index):
            rows = np.resize(
                rng.permutation(np.flatnonzero(index == c)), prior.modes_per_class
            )
            prior.match(
                int(c),
                torch.from_numpy(means[rows]),
                torch.from_numpy(np.log(np.maximum(variances[rows], _TINY))),
            )

    def _match_prior(self, X, means: np.ndarray, variances: np.ndarray) -> None:
        """Fit p(z|y) of each class with training rows in ``X`` to their codes.

        The Gaussian closest to a class's aggregate posterior (the mixture of
        q(z|x, y) over its rows, in KL): its mean is the rows' mean of the
        posterior ``means``, its covariance their covariance plus the mean
        posterior variance. It minimises the sum of the rows' KL terms, so
        the training rows' ELBO only rises. Classes without rows in ``X`` (a
        ``partial_fit`` block) keep theirs.
        """
        index = np.asarray(X[:, -len(self.classes_) :].argmax(axis=1)).ravel()
        for c in np.unique(index):
            mu, var = means[index == c], variances[index == c]
            centred = mu - mu.mean(axis=0)
            cov = centred.T @ centred / len(mu) + np.diag(var.mean(axis=0))
            self.module_.prior.match(
                int(c), torch.from_numpy(mu.mean(axis=0)), torch.from_numpy(cov)
            )

    def _prior(self) -> str:
        """The prior ``prior`` names ("auto": each class's exemplars)."""
        return "exemplars" if _is_auto(self.prior) else self.prior

    def _data_columns(self, X):
        return X[:, : -len(self.classes_)]

    def _fit_scaling(self, X):
        return fit_scaling(X[:, : -len(self.classes_)], self._resolved_scaling())

    def _row_scaling(self, mean, scale):
        k = len(self.classes_)
        return np.r_[mean, np.zeros(k)], np.r_[scale, np.ones(k)]

    def _code_width(self) -> int:
        return self.n_components_ + len(self.classes_)

    # -------------------------------------------------------------- inference
    def _mode_weights(self) -> np.ndarray:
        """The classes' weights, their training frequencies ``class_prior_``
        (one mode for N(0, I))."""
        prior = self.module_.prior
        if prior.n_modes == 1:
            return super()._mode_weights()
        per_class = prior.modes_per_class
        return np.repeat(self.class_prior_ / per_class, per_class)

    @gated
    def class_posterior(self, X):
        """The weights q(y|x) of each class for each sample.

        ``q(y|x)`` is proportional to ``p(y) exp(ELBO(x, y))``, the
        ``class_prior_`` times the exponentiated evidence lower bound of
        ``x`` given the label: the approximate posterior of the label under
        the model, with which ``transform`` and ``posterior`` average over
        classes when no label is given. Its argmax classifies the samples
        (a generative classifier).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in the units it was fitted in.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows summing to 1, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = self._validate(X)
        self._check_X(X)
        log_joint = np.full((X.shape[0], len(self.classes_)), -np.inf)
        for c, scores in self._log_joint(X):
            log_joint[:, c] = scores
        top = log_joint.max(axis=1, keepdims=True)
        proba = np.exp(log_joint - top)
        return proba / proba.sum(axis=1, keepdims=True)

    @gated
    def transform(self, X, *, y=None):
        """Encode X into the latent space, given its labels or not.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in the units it was fitted in.

        y : array-like of shape (n_samples,) or a label, default=None
            Labels of the samples. None averages the posterior means of
            every class with the weights ``class_posterior(X)`` (see the
            class documentation).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Posterior means, of X's dtype for float32 and float64 input.
        """
        check_is_fitted(self)
        X = self._validate(X)
        dtype = output_dtype(X)
        if y is not None:
            return self._codes(
                self._labelled(X, self._label_index(y, X.shape[0])), dtype
            )
        terms = (
            (scores, [self._codes(self._of_class(X, c), np.float64)])
            for c, scores in self._log_joint(X)
        )
        return mixture(terms)[1][0].astype(dtype)

    @gated
    def posterior(self, X, *, y=None):
        """Mean and standard deviation of the posterior of z for each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in the units it was fitted in.

        y : array-like of shape (n_samples,) or a label, default=None
            Labels of the samples: q(z|x, y). None gives the moments of the
            mixture ``sum_y q(y|x) q(z|x, y)`` (see ``transform``).

        Returns
        -------
        mean : ndarray of shape (n_samples, n_components)
            Posterior means (what ``transform`` returns).

        std : ndarray of shape (n_samples, n_components)
            Posterior standard deviations.
        """
        check_is_fitted(self)
        X = self._validate(X)
        dtype = output_dtype(X)
        if y is not None:
            return self._posterior(
                self._labelled(X, self._label_index(y, X.shape[0])), dtype
            )

        def moments(c):
            mean, std = self._posterior(self._of_class(X, c), np.float64)
            return [mean, std**2 + mean**2]

        terms = ((scores, moments(c)) for c, scores in self._log_joint(X))
        mean, second = mixture(terms)[1]
        std = np.sqrt(np.maximum(second - mean**2, 0.0))
        return mean.astype(dtype), std.astype(dtype)

    @gated
    def inverse_transform(self, X, *, y=None):
        """Decode latent codes back to the data space, for given labels or not.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, for example the output of ``transform``.

        y : array-like of shape (n_samples,) or a label, default=None
            Labels to decode with: the mean of p(x|z, y). None gives the
            mean of ``sum_y p(y|z) p(x|z, y)`` over the training classes,
            where p(y|z) is proportional to p(y) p(z|y) (p(y) for the prior
            N(0, I)).

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstructions in the units of the training data.
        """
        check_is_fitted(self)
        Z = self._check_codes(X)
        if y is not None:
            return self._decode(Z, self._label_index(y, Z.shape[0]), Z.dtype)
        if isinstance(self.module_.prior, StandardNormalPrior):  # p(y|z) = p(y)
            mean = sum(
                np.exp(log_prior) * self._decode(Z, np.full(len(Z), c), np.float64)
                for c, log_prior in self._seen_classes()
            )
            return mean.astype(Z.dtype)
        terms = (
            (
                log_prior + self._prior_log_prob(Z, np.full(len(Z), c)),
                [self._decode(Z, np.full(len(Z), c), np.float64)],
            )
            for c, log_prior in self._seen_classes()
        )
        return mixture(terms)[1][0].astype(Z.dtype)

    def _prior_module(self) -> torch.nn.Module:
        """A float64 copy on the CPU of the fitted prior (made once per model)."""
        return self._memo().get(
            "prior_float64",
            lambda: copy.deepcopy(self.module_.prior).to("cpu", torch.float64),
        )

    def _prior_log_prob(self, Z: np.ndarray, index: np.ndarray) -> np.ndarray:
        """log p(z|y) of codes ``Z`` with labels ``index`` (float64)."""
        prior = self._prior_module()
        step = max(1, _PRIOR_ELEMENTS // max(1, prior.elements_per_code))
        with torch.no_grad():
            z = torch.as_tensor(Z, dtype=torch.float64)
            index = torch.as_tensor(index)
            return torch.cat(
                [
                    prior.log_prob_of(z[i : i + step], index[i : i + step])
                    for i in range(0, max(len(z), 1), step)
                ]
            ).numpy()

    def _prior_draw(self, eps: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Codes of p(z|y) for modes ``index`` from standard normal draws ``eps``
        (the modes of class c: ``c * M`` to ``c * M + M - 1``)."""
        with torch.no_grad():
            eps = torch.as_tensor(eps, dtype=torch.float64)
            return self._prior_module().draw_of(eps, torch.as_tensor(index)).numpy()

    def _decode(self, Z, index, dtype):
        return self._decode_to(self._labelled(Z, index), dtype)

    @gated
    def score_samples(self, X, *, y=None):
        """Evidence lower bound of each sample, given its label or not.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in the units it was fitted in.

        y : array-like of shape (n_samples,) or a label, default=None
            Labels: the ELBO of log p(x|y). None gives ``log sum_y p(y)
            exp(ELBO(x, y))``, a lower bound on log p(x).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Per-sample bound in nats, float64 (see :class:`VAETransformer`).
        """
        check_is_fitted(self)
        X = self._validate(X)
        self._check_X(X)
        if y is not None:
            return self._finite_scores(
                self._labelled(X, self._label_index(y, X.shape[0]))
            )
        return mixture((scores, []) for _, scores in self._log_joint(X))[0]

    @gated
    def score(self, X, y=None):
        """Mean of ``score_samples(X, y)`` (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data in the units it was fitted in.

        y : array-like of shape (n_samples,), default=None
            Labels, or None to marginalise them.

        Returns
        -------
        score : float
            Mean per-sample bound.
        """
        return float(np.mean(self.score_samples(X, y=y), dtype=np.float64))

    @gated
    def log_likelihood(self, X, n_samples=1000, random_state=None, *, y=None):
        """Importance-weighted estimate of each sample's log-likelihood, in nats.

        As :meth:`VAETransformer.log_likelihood`: with ``y`` an estimate of
        log p(x|y), without it of log p(x) = log sum_y p(y) p(x|y).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
            Data in the units it was fitted in.

        n_samples : int, default=1000
            Importance samples per row (and class).

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. None uses the estimator's ``random_state``.

        y : array-like of shape (n_samples_X,) or a label, default=None
            Labels, or None to marginalise them. Keyword-only: the positional
            parameters are those of :meth:`VAETransformer.log_likelihood`.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples_X,)
            Estimated log-likelihood per row, float64.
        """
        check_is_fitted(self)
        X = self._validate(X)
        self._check_X(X)
        n_samples = _check_n_samples(n_samples)
        generator = self._generator(random_state)
        if y is not None:
            rows = self._labelled(X, self._label_index(y, X.shape[0]))
            return self._log_likelihood(rows, n_samples, generator)
        terms = (
            (
                log_prior
                + self._log_likelihood(self._of_class(X, c), n_samples, generator),
                [],
            )
            for c, log_prior in self._seen_classes()
        )
        return mixture(terms)[0]

    @gated
    def sample(self, n_samples=1, random_state=None, *, y=None):
        """Generate samples of chosen classes.

        Draws codes from the prior p(z|y) (``prior``) and decodes each with
        its label.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. None uses the estimator's ``random_state``.
            The standard normal draws come first, one row per sample: the
            same seed gives the same draws whatever ``y`` and however many
            samples, each mapped through its class's prior (for the
            exemplars, a last column chooses the exemplar).

        y : array-like of shape (n_samples,) or a label, default=None
            The class of each sample, or one class for all. None draws the
            classes with their training frequencies ``class_prior_`` (to
            know them, draw them yourself, e.g. ``rng.choice(classes_,
            n_samples, p=class_prior_)``, and pass them). Keyword-only:
            ``sample(5, 0)`` means ``random_state=0``, as for
            :meth:`VAETransformer.sample`.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Decoded samples (means of p(x|z, y)), in the units of the
            training data.
        """
        check_is_fitted(self)
        n_samples = _check_n_samples(n_samples)
        index = None if y is None else self._label_index(y, n_samples)
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        per_class = self.module_.prior.modes_per_class
        # One row of standard normal draws per sample, then p(z|y): with
        # several modes per class, a last column chooses the mode.
        draws = rng.standard_normal((n_samples, self.n_components_ + (per_class > 1)))
        if index is None:
            index = rng.choice(len(self.classes_), n_samples, p=self.class_prior_)
        mode = index * per_class
        if per_class > 1:
            uniform = ndtr(draws[:, -1])
            mode += np.minimum((uniform * per_class).astype(np.intp), per_class - 1)
        codes = self._prior_draw(draws[:, : self.n_components_], mode)
        return self._decode(codes, index, np.float64)

    @gated
    def recommend(self, X, n_items=10, *, exclude_seen=True):
        """Not available for the conditional model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Unused.

        n_items : int, default=10
            Unused.

        exclude_seen : bool, default=True
            Unused.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not recommend; use VAETransformer, or "
            "rank the features of inverse_transform(transform(X, y=y), y=y)."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


# The parameters are VAETransformer's: their documentation too (not under -OO).
if ConditionalVAETransformer.__doc__ and VAETransformer.__doc__:
    ConditionalVAETransformer.__doc__ = ConditionalVAETransformer.__doc__.replace(
        "    {parameters}\n",
        section(VAETransformer.__doc__, "Parameters", "Attributes"),
    )
