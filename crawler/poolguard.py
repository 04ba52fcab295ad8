"""Make the extraction pool die with its crawl (Linux): no orphaned fork server or workers.

The fork server preloads ``crawler.forkserver_guard`` (which sets its parent-death signal), and
each pool worker runs ``die_with_parent`` as its initializer. Without it, a crawl killed by
the daemon's timeout or by kill -9 left its fork server and workers running for ever, one set
per killed crawl (found while soaking the daemon under faults).
"""

from __future__ import annotations

import ctypes
import os
import signal


def die_with_parent() -> None:
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

