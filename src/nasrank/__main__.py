"""``python -m nasrank`` and the ``nasrank`` script: the command line of :mod:`nasrank.cli`.

Before anything imports numpy or torch, the process is restarted with the numerics pins
when params.yaml asks for ``portable`` mode (:func:`nasrank.numerics.ensure_process`).
"""

import sys


def run() -> None:
    """The ``nasrank`` console script."""
    from nasrank.numerics import ensure_process

    ensure_process(sys.argv[1:])
    from nasrank.cli import main

    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":  # not when a spawned worker imports it as __mp_main__
    run()
