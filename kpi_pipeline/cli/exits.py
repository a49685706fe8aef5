"""The ``kpi`` command's exit codes and the error a wrong command-line value raises.

Shared by ``main``, the commands and ``portfolio`` (``main`` imports ``portfolio`` and hands it
the commands, so neither they nor ``portfolio`` may import ``main`` for these).
"""

OK, FAILED, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A command-line value is wrong; the message says which and why."""
