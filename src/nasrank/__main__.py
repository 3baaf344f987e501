"""``python -m nasrank``: the same command line as the ``nasrank`` script."""

import sys

from nasrank.cli import main

sys.exit(main())
