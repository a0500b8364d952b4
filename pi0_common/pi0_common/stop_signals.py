"""SIGINT and SIGTERM for the node executables: caught from the first instant, as flags.

A node's module imports rclpy, numpy and (the policy) torch, which takes seconds on a loaded machine.
A Ctrl-C that arrives meanwhile (right after `ros2 launch`, or while the policy loads) must not end the
process with a KeyboardInterrupt traceback and a 'killed by SIGINT' exit. So every executable's entry
point (``node_entry``) installs these flag-setting handlers before it imports its node module; the
node's main (pi0_common.spin.run_node, the recorder's main) keeps using the same flags, so a signal at
any moment is seen, once, by whoever runs then. A process stopped while it imports exits 0 at once:
nothing was started, so there is nothing to clean up.

Imports nothing heavy: it runs before the node modules do.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading

STOP = threading.Event()      # the first SIGINT or SIGTERM
HURRY = threading.Event()     # a second one (the recorder cuts its drain short)
_installed = False
_importing = False            # node_entry is importing the node module: nothing has started yet


def _on_signal(_signum, _frame) -> None:
    if _importing:
        # Nothing exists to clean up, and an import (torch: many seconds) would not notice a flag: end now,
        # quietly and successfully, as a stop before the start is.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    (HURRY if STOP.is_set() else STOP).set()


def catch_stop_signals() -> threading.Event:
    """Install the flag handlers once (main thread only, as Python requires); returns STOP."""
    global _installed
    if not _installed:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _on_signal)
        _installed = True
    return STOP


def ignore_late_signals() -> None:
    """After clean-up a signal can only come too late (launch forwards its SIGINT after the terminal's):
    ignore it, since Python puts the default handler back while it finalizes, and a signal then would end
    a clean shutdown as 'killed by SIGINT'."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def node_entry(module: str, function: str = 'main'):
    """A console entry point that catches the stop signals, then imports ``module`` and runs its
    ``function``; stopped during the import, it exits 0 at once without starting the node."""
    def entry():
        global _importing
        catch_stop_signals()
        _importing = True
        try:
            main = getattr(importlib.import_module(module), function)
        finally:
            _importing = False
        return main()
    entry.__doc__ = f'{module}.{function}, with the stop signals caught from the start'
    return entry
