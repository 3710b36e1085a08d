"""``python -m toyflow``: the command line."""

from .cli import main

raise SystemExit(main())
