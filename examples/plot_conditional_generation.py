"""
Generating images of a chosen class with a conditional VAE
==========================================================

:class:`~skae.ConditionalVAETransformer` is a VAE whose encoder and decoder
also see the class label: ``fit(X, y)`` learns q(z|x, y) and p(x|z, y), with
the prior N(0, I) on the code z independent of the label, so the code holds
what the label does not say (for digits, the style of the stroke) and
``sample(n, y=...)`` decodes codes drawn from the prior with the labels
asked for. The codes are drawn from ``random_state`` before the labels are
used, so each column of the grid below decodes the same code with each
label: the same style, written as every digit.

Every method takes an optional ``y``. With it, ``transform(X, y)`` is the
posterior mean of q(z|x, y) and ``inverse_transform(Z, y)`` decodes with
that label. Without it the label is marginalised: ``transform(X)`` averages
the posterior means of all classes, weighted by how likely the model finds
each class for that row (``class_posterior(X)``), which is what a pipeline
uses at prediction time, when there is no label; ``inverse_transform(Z)``
averages the decoded images over the classes, weighted by their training
frequencies, which blurs the classes together.

How well do the samples match the labels asked for? A classifier fitted on
the real training images (a logistic regression) labels 100 samples of each
class (clipped to [0, 1], the range of the pixels). The latent space has two
dimensions, as in :doc:`/uses`, which makes the same measurement on MNIST
and Fashion-MNIST. On the digits, all or nearly all samples go to the class
asked for, and without labels the class the model finds most likely for a
test image is right about as often as the logistic regression.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from skae import ConditionalVAETransformer
from skae.datasets import load_image_dataset
from skae.plot import SamplesDisplay

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
cvae = ConditionalVAETransformer(2, random_state=0)
cvae.fit(data.X_train, data.y_train)
clf = LogisticRegression(max_iter=1000).fit(data.X_train, data.y_train)
print(
    f"classifier accuracy on the real test images: "
    f"{clf.score(data.X_test, data.y_test):.3f}"
)

wanted = np.repeat(cvae.classes_, 100)
samples = np.clip(cvae.sample(len(wanted), y=wanted, random_state=1), 0, 1)
share = np.mean(clf.predict(samples) == wanted)
print(f"samples classified as the requested class: {share:.3f} of {len(wanted)}")

# %%
# Without labels the model still tells the classes apart: the class it finds
# most likely for a test image (the largest ``class_posterior``) is compared
# with the true one, and the test images are reconstructed with and without
# their labels.
posterior = cvae.class_posterior(data.X_test)
accuracy = np.mean(cvae.classes_[posterior.argmax(1)] == data.y_test)
print(f"most likely class under the model, accuracy on test images: {accuracy:.3f}")
for name, images in {
    "with labels": cvae.inverse_transform(
        cvae.transform(data.X_test, y=data.y_test), y=data.y_test
    ),
    "without labels": cvae.inverse_transform(cvae.transform(data.X_test)),
}.items():
    error = ((images - data.X_test) ** 2).sum(1).mean()
    print(f"reconstruction error {name}: {error:.2f}")

# %%
# Ten samples per class: row ``c`` asks for class ``c``; each column decodes
# one code drawn from the prior (the same ``random_state`` gives the same
# codes whatever the labels).
fig, ax = plt.subplots(figsize=(6, 6))
SamplesDisplay.from_estimator(cvae, 10, ax=ax, vmin=0, vmax=1)
ax.set_xlabel("the same 10 codes in every row")
plt.show()
