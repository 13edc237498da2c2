"""``python -m striate.quantum phases|plateaus [options]`` (the same as ``striate qcnn ...``)."""
from __future__ import annotations

import argparse
import sys

from .cli import add_commands, run


def main(argv=None) -> int:
    """Parse ``argv`` and run one QCNN experiment; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m striate.quantum",
        description="Quantum CNN experiments: SPT phase classification and barren plateaus.")
    add_commands(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
