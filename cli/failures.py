"""How the console scripts fail: one line on stderr, ``Error: ...``; exit 2 for usage errors, 1 otherwise.

Applied once, by :class:`actclr.cli.lazy.LazyGroup`, to every command of ``actclr-data`` and
``actclr-train``:

- click usage errors (a bad option value, a missing argument, ``click.UsageError`` raised by a
  command): the message and where to find help, exit 2;
- other ``click.ClickException``: the message, its exit code (1);
- the project's own exceptions (classes defined in ``actclr``, whose messages name the file, key
  or option and what to change): the message, exit 1, or 2 if the class sets ``exit_code = 2``
  (a usage error, e.g. a device this machine does not have);
- ``OSError`` (file not found, permission denied, an unreadable HDF5 file...): ``<file>: <what>``,
  exit 1;
- anything else is unforeseen: its type and message plus a hint to set ``ACTCLR_DEBUG=1``, exit 1.

With ``ACTCLR_DEBUG=1`` in the environment the full traceback is printed before the line.
"""
from __future__ import annotations

import os
import traceback

import click

DEBUG_VARIABLE = "ACTCLR_DEBUG"
#: How a DataLoader worker re-raises an exception: the original traceback follows this line.
_WORKER_MARK = "Original Traceback"


def _one_line(text: str) -> str:
    """A message on one line (a DataLoader worker's re-raised exception: the original's message)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    if any(line.startswith(_WORKER_MARK) for line in lines):
        last = lines[-1]
        kind, sep, message = last.partition(": ")
        return message if sep and kind.isidentifier() else last
    return " ".join(lines)


def _is_project_error(err: BaseException) -> bool:
    return type(err).__module__.split(".")[0] == "actclr"


def describe(err: BaseException) -> tuple[int, str]:
    """``(exit code, one-line message without the "Error: " prefix)`` of a failed command."""
    if isinstance(err, click.UsageError):
        ctx = err.ctx
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        return err.exit_code, _one_line(err.format_message()) + hint
    if isinstance(err, click.ClickException):
        return err.exit_code, _one_line(err.format_message())
    if isinstance(err, click.Abort):
        return 1, "aborted"
    if _is_project_error(err):
        return int(getattr(err, "exit_code", 1)), _one_line(str(err))
    if isinstance(err, OSError):
        if err.filename is not None and err.strerror:
            return 1, f"{err.filename}: {err.strerror}"
        return 1, _one_line(str(err))
    return 1, f"unexpected {type(err).__name__}: {_one_line(str(err))} (set {DEBUG_VARIABLE}=1 for the traceback)"


def report(err: BaseException) -> int:
    """Print ``err`` as one line on stderr (after its traceback under ``ACTCLR_DEBUG=1``); the exit code."""
    if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
        traceback.print_exception(err)
    code, message = describe(err)
    click.echo(f"Error: {message}", err=True)
    return code
