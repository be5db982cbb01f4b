"""Solution: the LSTM step's backward is numrnn's readable reference, numrnn/reference/lstm.py.

Its docstring lists the forward and backward equations and the code follows them line
by line; this file only hands its step pair to the checker.  The reference file also
runs on its own: copy it over your exercise file to experiment with a change.
"""

from numrnn.reference.lstm import lstm_step_backward, lstm_step_forward

__all__ = ["lstm_step_backward", "lstm_step_forward"]
