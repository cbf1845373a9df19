"""Crash points for tests: with CONSTANCIA_FAULT=NAME the process SIGKILLs itself at NAME.

Crash-safety is a promise; the tests keep it by killing a real `constancia` process at each
point where a crash would be worst. Off (one dictionary look-up) unless the variable is set.
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("CONSTANCIA_FAULT")


def point(name: str) -> None:
    """Die here, at once and without cleanup, if this point is armed."""
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
