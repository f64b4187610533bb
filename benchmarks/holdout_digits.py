"""The digits' small-data setting on five fresh splits, never used to choose it.

``sweep_digits.py`` chose ``common.DIGITS_SETTING`` (once "Denoising AE"
in ``skae compare``) among its variants on the splits with ``random_state``
0 to 4. This script measures that setting and the defaults in the same way
(``max_iter=100``, k in {2, 8, 16}, seeds 0 and 1, against PCA on the same
split) on the splits with ``random_state`` 5 to 9. Usage::

    python benchmarks/holdout_digits.py --device cpu --json out.jsonl
    python benchmarks/holdout_digits.py --report out.jsonl
    python benchmarks/holdout_digits.py --quick --json /tmp/out.jsonl   # smoke test
"""

from __future__ import annotations

from common import (
    DIGIT_VARIANTS,
    digits_report,
    load_digit_splits,
    run_digit_variant,
    sweep_main,
)

FIRST_SPLIT = 5
NAMES = ["defaults", "hidden 1024-512, silu, noise 5"]


def main() -> None:
    sweep_main(
        __doc__,
        {name: DIGIT_VARIANTS[name] for name in NAMES},
        NAMES[1:],
        run_digit_variant,
        digits_report,
        load=lambda path, quick: load_digit_splits(path, quick, FIRST_SPLIT),
    )


if __name__ == "__main__":
    main()
