"""``python -m rarescale.advisor``: see :mod:`rarescale.advisor.cli`."""

import sys

from rarescale.advisor.cli import main

sys.exit(main())
