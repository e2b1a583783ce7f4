"""`python -m luthien` runs the command line."""

from luthien.cli import main

raise SystemExit(main())
