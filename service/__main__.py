"""``python -m wirepost`` runs the CLI."""

from __future__ import annotations

import sys

from wirepost.cli import main

sys.exit(main())
