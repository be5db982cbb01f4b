"""Tools for studying recurrent networks: where the gradient goes, toy tasks, plots.

* :mod:`~numrnn.study.grad_flow`: the norm of the gradient reaching every
  hidden state, as a table and a figure (``grad_flow_table``, ``plot_grad_flow``);
* :mod:`~numrnn.study.tasks`: long-range toy problems (the adding problem, the
  first-symbol task) that show the vanishing gradient;
* :mod:`~numrnn.study.plotting`: the small matplotlib helpers the examples share.

:mod:`numrnn.gradcheck` and :mod:`numrnn.trace` are study tools too; they sit at
the top of the package because their names are commands (``numrnn gradcheck``,
``numrnn trace``).
"""

from . import grad_flow, plotting, tasks
from .grad_flow import grad_flow_series, grad_flow_table, plot_grad_flow
from .tasks import ADDING_BASELINE_MSE, adding_problem, first_symbol_task

__all__ = [
    "ADDING_BASELINE_MSE",
    "adding_problem",
    "first_symbol_task",
    "grad_flow",
    "grad_flow_series",
    "grad_flow_table",
    "plot_grad_flow",
    "plotting",
    "tasks",
]
