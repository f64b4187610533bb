"""
Recommending items with a multinomial VAE (Mult-VAE)
====================================================

Rows are users, columns are items, entries are 1 where a user liked an item.
``VAETransformer(likelihood="multinomial")`` learns a user's taste from the
items they have (input dropout through ``corruption="masking"`` and KL
annealing through ``kl_warmup``, as in Liang et al., WWW 2018), and
``recommend`` returns the items it ranks highest among those the user does
not have yet. The matrix stays sparse: batches are densified one at a time.

The data are MovieLens-100k (ratings >= 4) when a local copy is found by
:func:`skae.datasets.load_movielens_100k` (``pip install --no-deps
recbole==1.2.1`` ships one), and otherwise synthetic users with five tastes.
Some users are held out entirely; for each, 80% of their items are shown to
the model and we count how many of the other 20% appear in its top 20,
against recommending the most popular items.
"""

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from skae import VAETransformer
from skae.datasets import load_movielens_100k

try:
    X = load_movielens_100k(min_rating=4).data
    name = "MovieLens-100k"
except OSError:
    rng = np.random.default_rng(0)
    taste = rng.integers(5, size=900)
    X = sp.lil_array((900, 500))
    for user, t in enumerate(taste):
        X[user, rng.choice(100, size=15, replace=False) + 100 * t] = 1.0
        X[user, rng.choice(500, size=3, replace=False)] = 1.0
    X, name = X.tocsr(), "synthetic users"

# Hold out 100 users; split each one's items into shown (80%) and hidden (20%).
rng = np.random.default_rng(0)
users = rng.permutation(X.shape[0])
train, test = X[users[100:]], X[users[:100]].tolil()
hidden = sp.lil_array(test.shape)
for row in range(test.shape[0]):
    items = np.flatnonzero(test[[row]].toarray())
    for item in rng.choice(items, size=len(items) // 5, replace=False):
        hidden[row, item], test[row, item] = 1.0, 0.0
test, hidden = test.tocsr(), hidden.tocsr()

# Mult-VAE's recipe is what likelihood="multinomial" resolves "auto" to: 200
# latent dimensions, one hidden layer of 600, tanh, input dropout 0.5,
# beta=0.2 reached over 10 epochs, batches of 100, 100 cosine epochs.
vae = VAETransformer(likelihood="multinomial", random_state=0).fit(train)
top = vae.recommend(test, n_items=20)
popular = np.argsort(-np.asarray(train.sum(axis=0)).ravel(), kind="stable")


def recall_at_20(ranked):
    """Share of each user's hidden items found in their top 20 (up to 20)."""
    hits = [
        np.isin(ranked[u], hidden[[u]].indices).sum() / min(20, hidden[[u]].nnz)
        for u in range(hidden.shape[0])
        if hidden[[u]].nnz
    ]
    return np.mean(hits)


unseen_popular = np.array(
    [[i for i in popular if not test[[u]][0, i]][:20] for u in range(test.shape[0])]
)
scores = {"most popular": recall_at_20(unseen_popular), "Mult-VAE": recall_at_20(top)}
print(f"{name}: {X.shape[0]} users x {X.shape[1]} items")
for method, recall in scores.items():
    print(f"Recall@20 of {method}: {recall:.3f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.barh(list(scores), list(scores.values()), color=["grey", "tab:blue"])
ax.set_xlabel("Recall@20 on 100 held-out users")
ax.set_title(f"Top-20 recommendations, {name}")
fig.tight_layout()
plt.show()
