"""``python -m numrnn.trace KIND [options]``: the same as ``numrnn trace``."""

import sys

from .run import main

sys.exit(main())
