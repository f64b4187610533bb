"""
Generating images of a chosen class with a conditional VAE
==========================================================

:class:`~skae.ConditionalVAETransformer` is a VAE whose encoder and decoder
also see the class label: ``fit(X, y)`` learns q(z|x, y) and p(x|z, y), so
that the code holds what the label does not say (for digits, the style of
the stroke), and ``sample(n, y=...)`` decodes codes drawn from the prior
with the labels asked for.

The prior is fitted to each class (``prior="auto"``): the networks train
with N(0, I), then each class's prior becomes the mixture of the posteriors
of 500 of its training rows, its exemplars (an estimate of the class's
aggregate posterior). That matters from about 8 latent dimensions on: the
codes then also carry the class, the decoder leans on them, and a code drawn
from N(0, I) decodes to whichever class its region holds, whatever label is
asked for. Drawn near one of the class's exemplars, it lands where the
decoder learnt that class.

:func:`skae.metrics.sample_quality` measures it: a classifier fitted on the
real training images (here a logistic regression, on samples clipped to
[0, 1], the range of the pixels) labels 100 samples of each class; it also
reports how varied each class's samples are against the real test images
(``spread_ratio``) and the Fréchet distance of their statistics to the test
images'. ``benchmarks/bench_generative.py`` makes the same measurement on
MNIST and Fashion-MNIST with a CNN as the judge.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skae import ConditionalVAETransformer
from skae.datasets import load_image_dataset
from skae.metrics import sample_quality
from skae.plot import SamplesDisplay

data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
judge = make_pipeline(
    FunctionTransformer(np.clip, kw_args={"a_min": 0, "a_max": 1}),
    LogisticRegression(max_iter=1000),
).fit(data.X_train, data.y_train)
accuracy = judge.score(data.X_test, data.y_test)
print(f"judge's accuracy on the real test images: {accuracy:.3f}")


class StandardNormalCodes:
    """The same fitted networks, sampled with codes from N(0, I)."""

    def __init__(self, model):
        self.model, self.classes_ = model, model.classes_

    def sample(self, n_samples, random_state=None, *, y=None):
        rng = np.random.RandomState(random_state)
        codes = rng.standard_normal((n_samples, self.model.n_components_))
        return self.model.inverse_transform(codes, y=y)


models = {}
for k in (2, 16):
    cvae = ConditionalVAETransformer(k, random_state=0)
    models[k] = cvae.fit(data.X_train, data.y_train)
    samplers = {"fitted prior": cvae, "N(0, I)": StandardNormalCodes(cvae)}
    for name, model in samplers.items():
        result = sample_quality(
            model, data.X_test, data.y_test, classifier=judge, random_state=1
        )
        print(
            f"k={k:2d}, {name:12s}: judged as asked {result.accuracy:.3f}, "
            f"spread ratio min {result.spread_ratio.min():.2f}, "
            f"Frechet {result.frechet:.2f}"
        )

# %%
# Ten samples per class at 2 and at 16 latent dimensions: row ``c`` asks for
# class ``c``; each column uses the same standard normal draws in every row
# (each class maps them through its own exemplars).
fig, axes = plt.subplots(1, 2, figsize=(10, 5.5))
for ax, (k, cvae) in zip(axes, models.items(), strict=True):
    SamplesDisplay.from_estimator(cvae, 10, ax=ax, vmin=0, vmax=1)
    ax.set_title(f"k={k}")
plt.show()

# %%
# Without labels the model still tells the classes apart: the class it finds
# most likely for a test image (the largest ``class_posterior``) is compared
# with the true one, and the test images are reconstructed with and without
# their labels (without, ``inverse_transform`` weighs each class by how
# likely the code is under its prior).
cvae = models[2]
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
