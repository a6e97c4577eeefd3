"""The one exception type for bad user input."""


class InputError(Exception):
    """Bad input from the user: a flag, a value, a file.

    The message is one line that names the file, flag or value and says what
    was expected. The CLI prints it without a traceback and exits with status 2.
    """


class DataNotFoundError(InputError):
    """A dataset was found neither locally nor through a keras download."""
