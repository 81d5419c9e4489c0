"""``python -m attnsvm.verify``: the command line (the same as ``python -m attnsvm``)."""
from .cli import entry

if __name__ == "__main__":
    entry()
