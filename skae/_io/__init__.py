"""Persistence: fitted estimators to safetensors files and back, running no code.

A saved model is one safetensors file: the weights, ``mean_``, ``scale_`` and
the arrays of ``latent_density_`` as tensors, everything else (the class name,
the parameters and the other fitted attributes) as JSON strings in the file's
metadata, with a SHA-256 digest of the tensors and one of the metadata.
Loading checks the digests (a corrupted file is refused), reads plain numbers
and strings, checks every one of them and builds the estimator from a fixed
list of three classes: nothing in the file is imported, unpickled or called.
See ``docs/persistence.md``.

The package: :mod:`.save` and :mod:`.load`; :mod:`.schema` (the format,
the allowed classes, what every file holds), :mod:`.digests`,
:mod:`.values` (checks of JSON values), :mod:`.labels` and :mod:`.mixture`
(the conditional VAE's labels, ``latent_density_``), :mod:`.json_tags` and
:mod:`.safetensors_header` (the file's header, read without safetensors).
Each estimator class declares what it adds next to its code:
``_saved_attributes``, ``_architecture_params``, ``_params_added`` and
``_architecture_added`` (a subclass inherits its base's); adding a fitted
attribute touches that class only. Adding a class also adds it to the
allow-list ``schema._CLASSES``, on purpose: nothing else can be loaded.
"""

from .load import load
from .save import save

__all__ = ["load", "save"]
