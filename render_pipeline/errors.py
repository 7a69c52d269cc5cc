"""Errors the user can fix: the CLI prints them as one line and exits 2, without a traceback."""


class UserError(Exception):
    """A problem with the user's input or machine, with the fix in the message."""
