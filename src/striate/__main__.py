"""``python -m striate`` runs the command line (the same as the ``striate`` script)."""
import sys

from .cli import main

sys.exit(main())
