"""Child processes die with their parent (Linux): no orphaned crawls, fork servers or workers.

The fork server preloads ``crawler.forkserver_guard`` (which sets its parent-death signal), and
each pool worker runs ``die_with_parent`` as its initializer. Without it, a crawl killed by
the daemon's timeout or by kill -9 left its fork server and workers running for ever, one set
per killed crawl (found while soaking the daemon under faults). A crawl the daemon starts calls
``die_with_named_parent``; a crawl process that ``crawler crawl`` forks, ``die_with``.
"""

from __future__ import annotations

import ctypes
import os
import signal


def die_with_parent() -> None:
    """A pool worker or the fork server: SIGKILL when the process that started it dies."""
    die_with(os.getppid())


PARENT_ENV = "CRAWLER_DAEMON_PID"  # set by the process that starts a crawl child: its pid


def die_with_named_parent() -> None:
    """Called by a crawl child: get SIGKILL when the process named in PARENT_ENV dies, even by kill -9.

    Done in the child itself, not with ``preexec_fn`` (unsafe in a threaded parent).
    """
    parent = os.environ.get(PARENT_ENV)
    if parent:
        die_with(int(parent))


def die_with(parent: int) -> None:
    """SIGKILL when ``parent`` (this process's parent now) dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
