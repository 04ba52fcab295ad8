"""Progress of long commands on stderr: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Reporter:
    """``with Reporter("exporting", total) as progress: progress.advance()``.

    Not a terminal (a pipe, a log file, CI): one line every ``every`` seconds and
    one at the end, so logs stay readable.
    """

    def __init__(self, label: str, total: int | None = None, *, every: float = 5.0, stream=None):
        self.label, self.total, self.every = label, total, every
        self.stream = stream or sys.stderr
        self.done = 0
        self._bar: Progress | None = None
        self._last = time.monotonic()

    def __enter__(self) -> Reporter:
        if self.stream.isatty():
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(file=self.stream), transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, advance=count)
        elif time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self._line()

    def _line(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        print(f"{self.label}: {self.done}{of}", file=self.stream, flush=True)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
        else:
            self._line()
