"""``python -m pi0_policy.train``: see cli.py."""

import sys

from .cli import main

sys.exit(main())
