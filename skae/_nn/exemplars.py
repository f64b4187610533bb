"""The conditional VAE's exemplar prior (pure torch, no scikit-learn import).

p(z|y) is a class's aggregate posterior (1/n_y) sum_i q(z|x_i, y), the prior
that maximises its training rows' evidence lower bound for the trained
networks, estimated from M of its rows (its exemplars): the uniform mixture
of their posteriors. It is the VampPrior (Tomczak & Welling, 2018) with its
pseudo-inputs fixed at training rows and their posteriors kept, one
mixture per class (the Exemplar VAE of Norouzi et al., 2020, draws its
prior the same way). A single Gaussian per class
(:class:`skae._nn.priors.LabelGaussianPrior`) puts draws between the
clusters of a class's codes, where the decoder learnt no image of it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .priors import LabelPrior, StandardNormalPrior, log_normal_diag, sampled_kl

_NORMAL = StandardNormalPrior()


class LabelExemplarPrior(LabelPrior):
    """p(z|y) = (1/M) sum_m N(z; mean[y, m], diag(exp(log_var[y, m]))).

    Rows are ``[x, onehot(y)]``: the prior reads the label from the columns
    after the first ``n_features``. Until :meth:`match` sets a class's
    exemplars the prior is N(0, I) with the KL term in closed form (a fit
    trains with it); once matched (``matched`` is 1), the KL term is
    estimated from the posterior draws, as for the VampPrior. The modes of
    :meth:`draw_of` are the exemplars, ``M`` per class (``modes_per_class``):
    class c's are ``c * M`` to ``c * M + M - 1``. A training row that is an
    exemplar has its own posterior in the prior, so its KL term is at most
    about log M: on data with fewer than M rows per class, every training
    row scores a little higher than a new row of the same fit would.
    """

    def __init__(
        self, n_features: int, n_classes: int, n_components: int, n_exemplars: int
    ) -> None:
        super().__init__(n_features)
        self.modes_per_class = n_exemplars
        self.n_modes = n_classes * n_exemplars
        # log_prob's (rows x M x k) tensors: the gathered means, log-variances
        # and precisions, the differences, their weighted squares and sum.
        self.elements_per_code = 7 * n_exemplars * n_components
        shape = (n_classes, n_exemplars, n_components)
        self.mean = nn.Parameter(torch.empty(shape), requires_grad=False)
        self.log_var = nn.Parameter(torch.empty(shape), requires_grad=False)
        # float32 like every saved tensor; mirrored by the Python flag below.
        self.matched = nn.Parameter(torch.zeros(1), requires_grad=False)
        self._matched = False

    def reset_parameters_from(self, generator: torch.Generator) -> None:
        """N(0, I) for every class, unmatched."""
        with torch.no_grad():
            self.mean.zero_()
            self.log_var.zero_()
            self.matched.zero_()
        self._matched = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        flag = state_dict.get(prefix + "matched")
        if flag is not None and not flag.is_meta:
            self._matched = bool(flag.detach().cpu().reshape(-1)[0] > 0.5)

    @torch.no_grad()
    def match(self, index: int, mean: torch.Tensor, log_var: torch.Tensor) -> None:
        """Set class ``index``'s exemplars' posterior means and log-variances."""
        self.mean[index] = mean.to(self.mean)
        self.log_var[index] = log_var.to(self.log_var)
        self.matched.fill_(1.0)
        self._matched = True

    def kl(
        self,
        mu: torch.Tensor,
        log_var: torch.Tensor,
        x: torch.Tensor,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """KL(q(z|x) || p(z|y)) per row: closed form before :meth:`match`,
        then log q(z|x) - log p(z|y) averaged over the draws ``z``."""
        if not self._matched:
            return _NORMAL.kl(mu, log_var)
        return sampled_kl(mu, log_var, z, self.log_prob(z, x))

    def draw(self, eps: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Codes of each row's class's first exemplar (:meth:`draw_of` chooses)."""
        return self.draw_of(eps, self.label_index(x) * self.modes_per_class)

    def log_prob_of(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """log p(z|y) of codes ``z`` (``(..., n, k)``) of classes ``index`` (``n``).

        Each row's value is computed from that row alone (elementwise
        terms summed over the last dimension), whatever the other rows.
        """
        if not self._matched:
            return _NORMAL.log_prob(z)
        mean, log_var = self.mean[index], self.log_var[index]  # (n, M, k)
        log_densities = log_normal_diag(z[..., None, :], mean, log_var)
        return torch.logsumexp(log_densities, -1) - math.log(self.modes_per_class)

    def draw_of(self, eps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Codes of the exemplars (modes) ``index`` from standard draws ``eps``."""
        index = index.to(self.mean.device)
        mean = self.mean.flatten(0, 1)[index]
        scale = torch.exp(0.5 * self.log_var.flatten(0, 1)[index])
        return mean + scale * eps
