"""What the root entry points share: user errors become one line on stderr, not a traceback."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tqdm.contrib.logging import logging_redirect_tqdm

from fastnst.errors import FastNSTError, find_cause

if TYPE_CHECKING:
    from fastnst.inference.files import Report

Result = TypeVar("Result")


def find_user_error(error: BaseException) -> FastNSTError | None:
    """The FastNSTError in ``error``'s chain of causes (Hydra's instantiate wraps them)."""
    return find_cause(error, FastNSTError)


def exit_on_user_error(main: Callable[..., Result]) -> Callable[..., Result]:
    """Decorate an entry point so a FastNSTError anywhere exits with ``error: <message>``."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        try:
            return main(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - re-raised unless it is the user's mistake
            user_error = find_user_error(error)
            if user_error is None:
                raise
            sys.exit(f"error: {user_error}")

    return wrapper


def quiet_progress_logging() -> contextlib.AbstractContextManager[None]:
    """Route log records through tqdm while a command runs, so a logged warning is printed
    above the progress bar instead of breaking its line."""
    return logging_redirect_tqdm()


def finish_stylize(report: Report) -> None:
    """Print the run's summary; exit with status 1 when an input could not be stylized, so a
    script notices (the other files were written all the same)."""
    print(report, file=sys.stderr)
    if report.failed or report.unreadable:
        sys.exit(1)
