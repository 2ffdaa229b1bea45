"""Errors in what the user asked for (a config, a path, a list, a checkpoint), as opposed to bugs.

Tools catch `UserError` at their entry point and print its message as one `error: ...` line (exit status 2,
no traceback); any other exception is a programming error and keeps its traceback. A run that fails midway
ends as a `RunFailure` (slowfast/engine/failures.py): one line, the traceback in the run's log. The classes
live in the config package, the lowest layer, so that every layer may raise them.
"""

import sys
from collections.abc import Callable

# Exit status of a run stopped by a user error (argparse's for a bad command line, too).
USER_ERROR_STATUS = 2


class UserError(Exception):
    """Something the user must change: the message says what and which setting (config key or variable)."""


class ConfigError(UserError, ValueError):
    """A config file or KEY VALUE override that does not load: unknown key, wrong type or value, bad YAML."""


class RunFailure(UserError):
    """A run that stopped midway (out of memory, a NaN loss, bad videos, a process lost): the message names
    the cause and what to change; the traceback, if any, is already in the run's log. `status` is the exit
    status: 2 where the message names a setting to change, 1 for a fault of the program itself."""

    def __init__(self, message: str, status: int = USER_ERROR_STATUS):
        super().__init__(message)
        self.status = status


def exit_on_user_error(main: Callable[..., object],
                       also: tuple[type[BaseException], ...] = ()) -> Callable[..., object]:
    """Wrap a tool's `main`: a `UserError` (or one of the exception types `also`, which that tool's inputs
    raise, e.g. FileNotFoundError) prints `error: <message>` on stderr and exits with status 2 (a
    `RunFailure`: its own status). Every tool ends a user's mistake this way."""

    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (UserError, *also) as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            sys.exit(getattr(err, "status", USER_ERROR_STATUS))

    wrapped.__doc__, wrapped.__name__ = main.__doc__, main.__name__
    return wrapped
