"""Errors for bad user input: one line that names the problem and where it is."""


class InputError(ValueError):
    """Bad user input (a dataset, a file, an option). The CLI prints ``error: <message>`` and exits 2.

    >>> from attnsvm.verify import check
    >>> try:
    ...     check("multi-input", tol=-1)
    ... except InputError as exc:
    ...     print(exc)
    tol: expected a positive number, got -1
    """


class DatasetError(InputError):
    """A dataset file or array that does not follow the dataset format; the message names the field.

    >>> from attnsvm.verify import Dataset
    >>> try:
    ...     Dataset(X=[[[1, 0], [0, 1]]], Y=[2], v=[1, 0])
    ... except DatasetError as exc:
    ...     print(exc)
    Y[0]: labels must be -1 or 1, got 2
    """
