"""Run the benchmark: ``python -m tests.bench SCENARIO|all [--quick] [--profile DIR]``."""

from __future__ import annotations

import logging
import sys

from .run import build_parser, run


def main() -> int:
    """Parse the command line, log as `tubepoller` does, run the scenario(s)."""
    args = build_parser().parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
