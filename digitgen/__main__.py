"""``python -m digitgen``: the same as the ``digitgen`` command."""

from digitgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
