"""Errors in what the user asked for (a config, a path, a list, a checkpoint), as opposed to bugs.

Tools catch `UserError` at their entry point and print its message as one `error: ...` line (exit status 2,
no traceback); any other exception is a programming error and keeps its traceback. The classes live in the
config package, the lowest layer, so that every layer may raise them.
"""

import sys
from collections.abc import Callable

# Exit status of a run stopped by a user error (argparse's for a bad command line, too).
USER_ERROR_STATUS = 2


class UserError(Exception):
    """Something the user must change: the message says what and which setting (config key or variable)."""


class ConfigError(UserError, ValueError):
    """A config file or KEY VALUE override that does not load: unknown key, wrong type or value, bad YAML."""


def exit_on_user_error(main: Callable[..., object]) -> Callable[..., object]:
    """Wrap a tool's `main`: a `UserError` prints `error: <message>` on stderr and exits with status 2."""

    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            sys.exit(USER_ERROR_STATUS)

    wrapped.__doc__, wrapped.__name__ = main.__doc__, main.__name__
    return wrapped
