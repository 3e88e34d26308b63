"""The one exception type raised by the ODE analysis for bad input."""

from __future__ import annotations


class AnalysisError(ValueError):
    """An ODE system or kernel that the analysis cannot accept.

    The message names the offending state, symbol or term, so that the front end can show it to the user
    unchanged.
    """
