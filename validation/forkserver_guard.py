"""Imported only by the fork server that starts the distributed executor's nodes (its preload):
the kernel kills the fork server the moment its launcher dies (Linux PR_SET_PDEATHSIG), and
with it, through their own death signal, the nodes it forked. Without it the fork server
lingers for seconds after its launcher, and so would nodes training on and overwriting the
checkpoints a resume needs. Nodes call `die_with_parent` themselves (a fork clears the signal)."""

import ctypes
import signal


def die_with_parent() -> None:
    """The kernel sends this process SIGKILL when its parent ends (Linux; elsewhere nothing: the
    nodes also check on their launcher each round)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


die_with_parent()
