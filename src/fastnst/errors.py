"""The one exception type for mistakes a user can fix, and finding one behind wrappers."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class FastNSTError(Exception):
    """A user-fixable error.

    Its message is a single line that names the file or option at fault and says what to do.
    The entry points print it without a traceback and exit with status 1.
    """


def find_cause(error: BaseException, kind: type[E]) -> E | None:
    """The first exception of type ``kind`` in ``error``'s chain of causes and contexts.

    Wrappers hide the error that matters: Hydra's instantiate wraps a FastNSTError, and
    ``torch.save`` reports a full disk as a RuntimeError raised while handling the OSError.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
