"""``python -m attnsvm``: the command line (see attnsvm.verify.cli)."""
from attnsvm.verify.cli import entry

if __name__ == "__main__":
    entry()
