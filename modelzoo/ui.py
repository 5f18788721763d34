"""Terminal output: Rich on a TTY, one plain line per event otherwise (CI logs stay readable).

Everything user-facing goes through `out` (stdout) or `err` (stderr); long work reports through
`progress(...)`, which is a Rich progress bar on a terminal and a few plain lines elsewhere.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape

# In logs (not a TTY) long paths and sha256s stay on one line instead of wrapping at 80 columns.
out = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


def is_tty() -> bool:
    return out.is_terminal


class _PlainTask:
    """Progress for logs: a line at start, every `every_s` seconds, and at the end."""

    def __init__(self, description: str, total: float | None, every_s: float = 10.0):
        self.description, self.total, self.every_s = description, total, every_s
        self.done = 0.0
        self._last = time.monotonic()
        err.print(f"{description} ...", markup=False)

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            of = f"/{self.total:.0f}" if self.total else ""
            err.print(f"{self.description}: {self.done:.0f}{of}", markup=False)

    def update(self, completed: float) -> None:
        self.advance(completed - self.done)

    def finish(self) -> None:
        err.print(f"{self.description}: done", markup=False)


class _RichTask:
    def __init__(self, progress, description: str, total: float | None):
        self._progress = progress
        self._id = progress.add_task(description, total=total)

    def advance(self, amount: float = 1.0) -> None:
        self._progress.advance(self._id, amount)

    def update(self, completed: float) -> None:
        self._progress.update(self._id, completed=completed)

    def finish(self) -> None:
        pass


@contextmanager
def progress(description: str, total: float | None = None, *, bytes_: bool = False) -> Iterator:
    """A task with `.advance(n)` / `.update(done)`; a bar on a TTY, plain lines otherwise."""
    if not err.is_terminal:
        task = _PlainTask(description, total)
        yield task
        task.finish()
        return
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeRemainingColumn, TransferSpeedColumn)

    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn(), TransferSpeedColumn()] if bytes_ else [MofNCompleteColumn()]
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        yield _RichTask(bar, description, total)


# Messages are plain text: paths like `runs/x[1]` must print as they are, so markup is escaped.


def warn(message: str) -> None:
    if err.is_terminal:
        err.print(f"[yellow]warning:[/] {escape(message)}")
    else:
        err.print(f"warning: {message}", markup=False)


def info(message: str) -> None:
    """One unwrapped line on stderr (CI logs are read by people and by grep)."""
    err.print(message, markup=False, soft_wrap=True)


def print_error(title: str, message: str, fix: str | None) -> None:
    """What failed and why, and the command that fixes it: a panel on a TTY, plain text otherwise."""
    body = message if not fix else f"{message}\n\nFix: {fix}"
    if err.is_terminal:
        from rich.panel import Panel

        err.print(Panel(escape(body), title=f"[bold red]{escape(title)}", title_align="left",
                        border_style="red"))
    else:
        print(f"error ({title}): {body}", file=sys.stderr)
