"""The exception types for bad user input, and a spelling hint for their messages."""

import difflib


class InputError(Exception):
    """Bad input from the user: a flag, a value, a file.

    The message is one line that names the file, flag or value and says what
    was expected. The CLI prints it without a traceback and exits with status 2.
    """


class DataNotFoundError(InputError):
    """A dataset was found neither locally nor through a keras download."""


class DiskFullError(InputError):
    """A write failed because the disk (or the user's quota) is full.

    An InputError: the CLI prints its one line and exits 2; the run is not
    broken, and the same command resumes once there is space.
    """


def did_you_mean(name: str, choices) -> str:
    """' (did you mean X?)' for the closest of `choices`, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
