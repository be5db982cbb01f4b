"""``python -m numrnn.gradcheck LAYER [options]``: the same as ``numrnn gradcheck``."""

import sys

from .cli import main

sys.exit(main())
