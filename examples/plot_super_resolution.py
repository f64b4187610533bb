"""
Super-resolution with a callable corruption
===========================================

``corruption`` also takes a callable ``fn(X_batch, generator)`` that returns
a corrupted copy of a training batch; the autoencoder then learns to
reconstruct the clean batch from it. Here the corruption averages each image
down to half its side (8x8 -> 4x4 for the digits, 28x28 -> 14x14 for MNIST)
and upsamples it back by repeating pixels, so the model learns to map a
low-resolution image to the high-resolution one. The callable sees and
returns float32 torch batches in the data's units (pixels in [0, 1] here;
skae undoes and redoes its internal scaling around it), and it is a
module-level function (bound to the image shape with
:func:`functools.partial`) so that the estimator still pickles.

The test images are downsampled the same way and upsampled back by
repeating pixels (the model's input, "low-res" below), by bicubic
interpolation, by PCA (fitted on the clean training images, applied to the
low-res input) and by the autoencoder; each is compared with the original
(squared error per image; lower is better). On the digits, halving the side
leaves 16 pixels per image: bicubic interpolation and PCA gain little over
the blocky input, while the autoencoder, which has learned what digits look
like, gets a several times smaller error. :doc:`/uses` has the
14x14 -> 28x28 comparison on MNIST.
"""

import os
from functools import partial

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA

from skae import AutoencoderTransformer
from skae.datasets import load_image_dataset


def down_up(X_batch, generator=None, *, image_shape, mode="nearest"):
    """Average rows of images down to half their side, then upsample back.

    A ``corruption`` callable ``(X_batch, generator) -> batch``; it is
    deterministic, so it does not draw from ``generator``.
    """
    images = X_batch.reshape(-1, 1, *image_shape)
    low = F.avg_pool2d(images, 2)
    options = {} if mode == "nearest" else {"align_corners": False}
    up = F.interpolate(low, size=image_shape, mode=mode, **options)
    return up.reshape(X_batch.shape)


data = load_image_dataset(os.environ.get("SKAE_EXAMPLES_DATASET", "digits"))
corrupt = partial(down_up, image_shape=data.image_shape)
X_test = torch.from_numpy(data.X_test)
low_res = corrupt(X_test).numpy()
bicubic = corrupt(X_test, mode="bicubic").clamp(0, 1).numpy()

pca = PCA(16, random_state=0).fit(data.X_train)
model = AutoencoderTransformer(16, corruption=corrupt, random_state=0).fit(data.X_train)

rows = {
    "low-res": low_res,
    "bicubic": bicubic,
    "PCA": pca.inverse_transform(pca.transform(low_res)),
    "skae": model.inverse_transform(model.transform(low_res)),
    "original": data.X_test,
}
print("squared error per test image to the original:")
for name, images in list(rows.items())[:-1]:
    print(f"{name:>8}: {((images - data.X_test) ** 2).sum(1).mean():.2f}")

# %%
# The first ten test images, from the low-resolution input to the original.
fig, axes = plt.subplots(len(rows), 10, figsize=(10, 5.5))
for row_axes, (name, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row_axes, images[:10], strict=True):
        ax.imshow(image.reshape(data.image_shape), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
    row_axes[0].set_title(name, loc="left", fontsize=9)
plt.show()
