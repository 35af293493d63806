"""The one exception type for mistakes a user can fix."""

from __future__ import annotations


class FastNSTError(Exception):
    """A user-fixable error.

    Its message is a single line that names the file or option at fault and says what to do.
    The entry points print it without a traceback and exit with status 1.
    """
