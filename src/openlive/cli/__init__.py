"""The ``openlive`` command line: ``serve``, ``cert``, ``assemble``, and the commands others add."""


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file): printed as one line, without a traceback."""
