"""``python -m tqsim``: the ``tqsim`` command, for environments without its console script."""

import sys

from .cli import main

sys.exit(main())
