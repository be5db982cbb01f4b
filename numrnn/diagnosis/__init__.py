"""Where is a hand-written BPTT loop wrong?  The step, the gate and the classic mistake.

:func:`check_bptt` compares a backward with :mod:`numrnn.reference` on three probes and
names the mistake from :data:`CATALOGUE`; see ``examples/exercises/README.md``.
"""

from .catalogue import CATALOGUE, Mistake
from .check import check_bptt
from .health import HealthReport, check_training_health
from .report import BPTTReport

__all__ = [
    "CATALOGUE",
    "BPTTReport",
    "HealthReport",
    "Mistake",
    "check_bptt",
    "check_training_health",
]
