"""The ``kpi`` command's exit codes and the error a wrong command-line value raises.

Shared by ``cli`` and ``portfolio_cli`` (``cli`` calls ``portfolio_cli``, so neither may
import the other for these).
"""

OK, FAILED, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A command-line value is wrong; the message says which and why."""
