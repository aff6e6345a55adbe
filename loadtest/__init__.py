"""End-to-end benchmark of Wirepost against its peers (pg-boss, graphile-worker, pgqueuer).

Run it with `python -m loadtest.run --help`; loadtest/README.md says what each mode measures.
"""

from __future__ import annotations
