"""Codes against PCA's on sklearn's digits, over several splits and seeds.

``skae compare`` measures one split (``random_state=0``) and one seed; its
450 test images make one image 0.0022 of accuracy, about the spread between
two seeds of one setting. This script fits ``AutoencoderTransformer`` with
the defaults of ``skae compare`` (``max_iter=100``) and some parameters
changed, at k in {2, 8, 16}, on five stratified 75/25 splits
(``random_state`` 0 to 4; split 0 is ``skae compare``'s) with seeds 0 and 1,
and compares the LogisticRegression and 5-NN accuracy of its codes with
PCA's on the same split, measured once in the same run (as is 5-NN on the
64 raw pixels). One JSON line per variant goes to ``--json``. Usage::

    python benchmarks/sweep_digits.py --device cpu --json out.jsonl defaults silu
    python benchmarks/sweep_digits.py --report benchmarks/results/sweep_digits_cpu.jsonl
    python benchmarks/sweep_digits.py --quick --json /tmp/out.jsonl   # smoke test
"""

from __future__ import annotations

from common import (
    DIGIT_VARIANTS,
    digits_report,
    load_digit_splits,
    run_digit_variant,
    sweep_main,
)


def main() -> None:
    sweep_main(
        __doc__,
        DIGIT_VARIANTS,
        ["defaults", "noise 3"],
        run_digit_variant,
        digits_report,
        load=load_digit_splits,
    )


if __name__ == "__main__":
    main()
