"""``python -m nasrank``: the same command line as the ``nasrank`` script."""

import sys

from nasrank.cli import main

if __name__ == "__main__":  # not when a spawned worker imports it as __mp_main__
    sys.exit(main())
