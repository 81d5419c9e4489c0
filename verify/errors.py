"""Errors for bad user input: one line that names the problem and where it is."""


class InputError(ValueError):
    """Bad user input (a dataset, a file, an option). The CLI prints ``error: <message>`` and exits 2."""


class DatasetError(InputError):
    """A dataset file or array that does not follow the dataset format; the message names the field."""
