"""Checkpoints: the training loop's whole state on disk, every few epochs.

A fit killed mid-way (out of memory, a preempted machine) resumes from its
last checkpoint and ends with the model an uninterrupted fit gives: the
file holds everything the next epoch reads, the weights (and the best
epoch's with early stopping), Adam's moments and step count, the schedule,
the random generator, the loss curves and the early-stopping counters,
and the seeds the fit drew before its first epoch.

The format is safetensors (tensors, no code) with JSON in its metadata and
a SHA-256 digest of the tensors. Each write goes to a temporary file in the
same folder, is flushed to disk and replaces the previous checkpoint in one
``os.replace``: a kill leaves the old file or the new one, never half of
one (a kill during a write leaves a temporary file beside it, removed when
the fit completes). A checkpoint written by a fit with other data or parameters
(``fingerprint``) is refused, not resumed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as serialize

FORMAT = "skae-checkpoint-1"


@dataclass
class LoopState:
    """What the training loop needs to go on after ``epoch`` completed epochs."""

    epoch: int
    module: dict[str, torch.Tensor]
    kept: dict[str, torch.Tensor] | None  # the best epoch's, with validation
    optimizer: dict
    step: int
    total_steps: int
    schedule: dict
    generator: torch.Tensor
    loss_curve: list[float]
    validation_loss_curve: list[float] | None
    best_loss: float
    no_improvement: int
    val_seed: int | None


class Checkpoint:
    """The checkpoint file of one fit: written every ``every`` epochs, read back.

    Parameters
    ----------
    path : str or PathLike
        The file.
    every : int
        Epochs between writes.
    fingerprint : str
        What the fit's data and parameters hash to; a file with another one
        is refused.
    seeds : tuple of int
        The seeds the fit drew before training (kept in the file, so that a
        resumed fit with ``random_state=None`` repeats them).
    """

    def __init__(
        self, path, every: int, fingerprint: str, device: torch.device, seeds=()
    ) -> None:
        self.path = Path(path)
        self.every = every
        self.fingerprint = fingerprint
        self.device = torch.device(device).type
        self.seeds = tuple(seeds)

    def due(self, epochs_done: int) -> bool:
        return epochs_done % self.every == 0

    # ------------------------------------------------------------- writing
    def save(self, state: LoopState) -> None:
        """Write ``state`` atomically (a temporary file, then one rename)."""
        tensors = {f"module/{k}": v for k, v in state.module.items()}
        if state.kept is not None:
            tensors.update({f"kept/{k}": v for k, v in state.kept.items()})
        for index, values in state.optimizer["state"].items():
            for name, value in values.items():
                tensors[f"optimizer/{index}/{name}"] = value
        tensors["generator"] = state.generator
        tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        metadata = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "device": self.device,
            "tensors_sha256": _digest(tensors),
            "state": json.dumps(
                {
                    "seeds": list(self.seeds),
                    "epoch": state.epoch,
                    "param_groups": state.optimizer["param_groups"],
                    "step": state.step,
                    "total_steps": state.total_steps,
                    "schedule": state.schedule,
                    "loss_curve": state.loss_curve,
                    "validation_loss_curve": state.validation_loss_curve,
                    "best_loss": _number(state.best_loss),
                    "no_improvement": state.no_improvement,
                    "val_seed": state.val_seed,
                }
            ),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            # Serialized here and written by this process under its own name:
            # safetensors' save_file writes through a temporary file of its
            # own that a kill would leave behind under a name nobody cleans.
            data = serialize(tensors, metadata=metadata)
            with open(temporary, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the file and the writes a kill cut short (the fit completed).

        Temporary files of processes still running are theirs: left alone.
        """
        self.path.unlink(missing_ok=True)
        for temporary in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            pid = temporary.name.rsplit(".", 2)[-2]
            if not (pid.isdigit() and _running(int(pid))):
                temporary.unlink(missing_ok=True)

    # ------------------------------------------------------------- reading
    def load(self) -> LoopState | None:
        """The saved state (None without a file); sets :attr:`seeds`.

        Raises ValueError for a file that is not a checkpoint, is corrupted,
        or was written by a fit with other data or parameters.
        """
        if not self.path.exists():
            return None
        try:
            with safe_open(self.path, framework="pt") as f:
                metadata = f.metadata() or {}
                tensors = {key: f.get_tensor(key) for key in f.keys()}
        except Exception as error:  # any unreadable file
            raise ValueError(
                f"checkpoint {self.path} cannot be read ({type(error).__name__}); "
                "delete it to fit from the start."
            ) from None
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a skae checkpoint.")
        if metadata.get("tensors_sha256") != _digest(tensors):
            raise ValueError(
                f"checkpoint {self.path} is corrupted (its tensors do not match "
                "their digest); delete it to fit from the start."
            )
        if metadata.get("device", self.device) != self.device:
            raise ValueError(
                f"checkpoint {self.path} was written by a fit on "
                f"{metadata['device']}; this fit runs on {self.device}. Fit on "
                f"{metadata['device']} (device=...) to resume it, or delete it."
            )
        if metadata.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} was written by a fit with other data or "
                "parameters: delete it, or fit with a new checkpoint path."
            )
        saved = json.loads(metadata["state"])
        self.seeds = tuple(saved["seeds"])
        groups: dict[str, dict[str, torch.Tensor]] = {}
        module, kept = {}, {}
        for key, value in tensors.items():
            kind, _, rest = key.partition("/")
            if kind == "module":
                module[rest] = value.to(self.device)
            elif kind == "kept":
                kept[rest] = value.to(self.device)
            elif kind == "optimizer":
                index, _, name = rest.partition("/")
                groups.setdefault(index, {})[name] = value
        optimizer = {
            "state": {int(i): values for i, values in groups.items()},
            "param_groups": saved["param_groups"],
        }
        return LoopState(
            epoch=saved["epoch"],
            module=module,
            kept=kept or None,
            optimizer=optimizer,
            step=saved["step"],
            total_steps=saved["total_steps"],
            schedule=saved["schedule"],
            generator=tensors["generator"],
            loss_curve=saved["loss_curve"],
            validation_loss_curve=saved["validation_loss_curve"],
            best_loss=float(saved["best_loss"]),
            no_improvement=saved["no_improvement"],
            val_seed=saved["val_seed"],
        )


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (this one included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        h.update(value.reshape(-1).view(torch.uint8).numpy())  # no copy
    return h.hexdigest()


def _number(value: float) -> float | str:
    """``value`` for JSON: infinity as a string (JSON has no infinity)."""
    return value if math.isfinite(value) else str(value)
