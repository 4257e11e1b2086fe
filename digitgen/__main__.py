"""``python -m digitgen``: the same as the ``digitgen`` command."""

from digitgen.cli.app import main

if __name__ == "__main__":
    raise SystemExit(main())
