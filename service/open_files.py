"""Make room for the sockets a server process holds: one per delivery in flight, plus API
clients and database connections.

Many systems start processes with a soft limit of 1,024 open files while allowing far more (the
hard limit). A process with 800 deliveries in flight and a few hundred API clients would then
fail to open sockets ("Too many open files") under load, and API clients are not bounded by any
setting: a burst of them would be turned away by ``accept`` failing. At start-up the soft limit is
raised to the hard limit (at most ``CEILING``), as Go's runtime does for every program; if even
that is below what the deliveries need, a warning names the setting to change.
"""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger(__name__)

HEADROOM = 256  # API clients, database connections, log and data files
CEILING = 1 << 20  # the soft limit asked for when the hard limit is unlimited


def ensure_open_files(deliveries_in_flight: int) -> int:
    """Raise the soft open-file limit to the hard limit (at most ``CEILING``, never lowered);
    warn when it stays below ``deliveries_in_flight`` sockets plus ``HEADROOM``. Returns the
    soft limit now in force."""
    wanted = deliveries_in_flight + HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(wanted, CEILING) if hard == resource.RLIM_INFINITY else hard
    if _below(soft, target):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            logger.debug("open_file_limit_unchanged", extra={"error": str(exc)})
    if _below(soft, wanted):
        logger.warning(
            "open_file_limit_low",
            extra={
                "limit": soft,
                "wanted": wanted,
                "hint": "raise the hard limit (ulimit -Hn, LimitNOFILE=, docker --ulimit nofile)"
                " or lower WIREPOST_DELIVERY_CONCURRENCY",
            },
        )
    return soft


def _below(limit: int, wanted: int) -> bool:
    return limit != resource.RLIM_INFINITY and limit < wanted
