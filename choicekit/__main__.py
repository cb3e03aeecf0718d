"""``python -m choicekit ...``: the ``choicekit`` command line (see :mod:`choicekit.cli`)."""

import sys

from choicekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
