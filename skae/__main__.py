"""``python -m skae``: the same as the ``skae`` console script."""

import sys

from .cli import main

sys.exit(main())
