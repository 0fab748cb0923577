"""`python -m shipper` and the `shipper` command.

A SIGTERM that comes before the agent has set up its own handling (while Python imports, while the
spool opens) exits 0 at once: nothing has been read yet, so leaving then loses nothing, and the
supervisor sees a clean stop instead of a death by signal.
"""

import signal
import sys


def _stop_before_start(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_before_start)
    from shipper.cli import main as cli

    return cli()


if __name__ == "__main__":
    sys.exit(main())
