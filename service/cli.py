"""The ``wirepost`` command: dev | serve | migrate | keygen | healthcheck | config.

Exit codes: 0 success, 1 runtime failure, 2 usage error or a bad setting (named in the message).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from wirepost import __version__, build
from wirepost.config import (
    DEV_TOKEN,
    Settings,
    SettingsError,
    cast_setting,
    env_name,
    load_settings,
)
from wirepost.logs import configure_logging
from wirepost.open_files import ensure_open_files
from wirepost.signing import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, generate_signing_key

logger = logging.getLogger("wirepost")

GC_YOUNG_THRESHOLD = 20_000  # allocations between young collections (Python's default: 700)

_ROLE_FLAGS = {
    "run_api": "--no-api",
    "run_delivery": "--no-delivery",
    "run_scheduler": "--no-scheduler",
}
_NOT_FLAGS = {"dev", "data_dir", *_ROLE_FLAGS}


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per non-secret setting, mirroring its WIREPOST_* variable."""
    for f in dataclasses.fields(Settings):
        if f.metadata["secret"] or f.name in _NOT_FLAGS:
            continue
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            metavar=f.metadata["kind"].upper(),
            help=f"{f.metadata['help']} [env {env_name(f.name)}]",
        )
    for name, flag in _ROLE_FLAGS.items():
        what = Settings.__dataclass_fields__[name].metadata["help"].lower().rstrip(".")
        parser.add_argument(
            flag,
            dest=name,
            action="store_const",
            const=False,
            default=None,
            help=f"do not {what} [env {env_name(name)}=false]",
        )


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        out[f.name] = (
            cast_setting(f.metadata["kind"], value, "--" + f.name.replace("_", "-"))
            if isinstance(value, str)
            else value
        )
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirepost",
        description="Self-hosted HTTP message queue with signed delivery (QStash v2 compatible).",
    )
    parser.add_argument(
        "--version", action="version", version=f"wirepost {__version__} ({build.describe()})"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run locally with an embedded Postgres and dev credentials")
    _add_setting_flags(dev)
    dev.add_argument(
        "--data-dir",
        dest="data_dir",
        default=None,
        help="embedded Postgres data folder [env WIREPOST_DATA_DIR]",
    )
    serve = sub.add_parser("serve", help="run the API and loops against WIREPOST_DATABASE_URL")
    _add_setting_flags(serve)
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    serve.add_argument(
        "--wait-for-db",
        type=float,
        default=0.0,
        metavar="SECS",
        help="keep trying to reach the database this long at start",
    )
    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    group = migrate.add_mutually_exclusive_group()
    group.add_argument("--dry-run", action="store_true", help="list what would be applied")
    group.add_argument("--check", action="store_true", help="exit 1 if migrations are pending")
    sub.add_parser("keygen", help="print a new signing key")
    health = sub.add_parser("healthcheck", help="exit 0 if the server answers /healthz")
    health.add_argument("url", nargs="?", default="http://127.0.0.1:8080/healthz")
    sub.add_parser("config", help="print the effective settings, secrets redacted")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "keygen":
            print(generate_signing_key())
            return 0
        if args.command == "healthcheck":
            return _healthcheck(args.url)
        settings = load_settings(os.environ, _overrides(args))
        if args.command == "dev":
            return _run_dev(settings)
        if args.command == "config":
            for name, value in settings.redacted().items():
                print(f"{name}={value}")
            return 0
        _require(
            settings.database_url,
            "WIREPOST_DATABASE_URL",
            "set it to your Postgres URL (or use `wirepost dev` for a local one)",
        )
        if args.command == "migrate":
            return asyncio.run(_migrate(settings, dry_run=args.dry_run, check=args.check))
        _require(
            settings.token,
            "WIREPOST_TOKEN",
            "set one or more API tokens (comma-separated) that clients send as Bearer",
        )
        if settings.workers > 1:
            return _run_workers(settings, migrate=args.migrate, wait_for_db=args.wait_for_db)
        return _run_server(settings, migrate=args.migrate, wait_for_db=args.wait_for_db)
    except SettingsError as exc:
        print(f"wirepost: bad setting {exc}", file=sys.stderr)
        return 2


def _require(value: object, env: str, how: str) -> None:
    if not value:
        raise SettingsError(env, f"is required: {how}")


def _healthcheck(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - operator-given URL
            return 0 if resp.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


async def _migrate(settings: Settings, *, dry_run: bool, check: bool) -> int:
    from wirepost.store import db
    from wirepost.store.migrate import migrate, pending

    assert settings.database_url
    conn = await db.connect(settings.database_url)
    try:
        if check:
            todo = await pending(conn)
            for m in todo:
                print(f"pending {m.version:04d}_{m.name}")
            return 1 if todo else 0
        done = await migrate(conn, dry_run=dry_run)
        for m in done:
            print(f"{'would apply' if dry_run else 'applied'} {m.version:04d}_{m.name}")
        if not done:
            print("database is up to date")
        return 0
    finally:
        await conn.close()


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _run_server(
    settings: Settings, *, migrate: bool, wait_for_db: float, banner: str | None = None
) -> int:
    configure_logging(settings.log_level, settings.log_format)
    _install_uvloop()
    ensure_open_files(settings.delivery_concurrency if settings.run_delivery else 0)
    try:
        return asyncio.run(
            _serve(settings, migrate=migrate, wait_for_db=wait_for_db, banner=banner)
        )
    except KeyboardInterrupt:
        return 0


def _run_workers(settings: Settings, *, migrate: bool, wait_for_db: float) -> int:
    """Migrate once here, then supervise ``settings.workers`` server processes."""
    from wirepost.workers import run_workers

    configure_logging(settings.log_level, settings.log_format)
    _install_uvloop()

    async def prepare() -> int:
        await _wait_for_database(settings, wait_for_db)
        return await _migrate(settings, dry_run=False, check=False) if migrate else 0

    code = asyncio.run(prepare())
    return code or run_workers(settings, settings.workers, worker_main)


def worker_main(settings: Settings) -> int:
    """Entry point of one ``--workers`` process (module level so it can be spawned)."""
    return _run_server(settings, migrate=False, wait_for_db=30)


async def _wait_for_database(settings: Settings, seconds: float) -> None:
    from wirepost.store import db

    assert settings.database_url
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            conn = await db.connect(settings.database_url)
        except Exception as exc:
            if loop.time() >= deadline or not db.is_connection_error(exc):
                raise
            await asyncio.sleep(0.5)
        else:
            await conn.close()
            return


async def _serve(
    settings: Settings, *, migrate: bool, wait_for_db: float, banner: str | None
) -> int:
    import asyncpg
    from aiohttp import web

    from wirepost.app import build_app

    await _wait_for_database(settings, wait_for_db)
    if migrate:
        code = await _migrate(settings, dry_run=False, check=False)
        if code:
            return code
    # aiohttp's keep-alive timer runs from a connection's start and from each response, and
    # data arriving does not reset it: it also bounds how long a request's head may trickle in.
    runner = web.AppRunner(
        build_app(settings),
        access_log=None,
        handle_signals=False,
        keepalive_timeout=settings.idle_timeout.total_seconds(),
    )
    try:
        await runner.setup()
    except asyncpg.UndefinedTableError as exc:
        print(
            f"wirepost: the database is not migrated ({exc}): run `wirepost migrate` first, "
            "or start with `wirepost serve --migrate`",
            file=sys.stderr,
        )
        await runner.cleanup()
        return 1
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=settings.workers > 1)
    await site.start()
    _settle_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logger.info(
        "server_started",
        extra={"host": settings.host, "port": settings.port, "build": build.describe()},
    )
    if banner:
        print(banner, flush=True)
    await stop.wait()
    logger.info("server_stopping")
    await runner.cleanup()
    return 0


def _settle_garbage_collector() -> None:
    """Move everything built at start-up out of the collector's sight and collect young objects
    less often. Every delivery allocates a few dozen short-lived objects that reference counting
    frees; with the default threshold the cyclic collector ran often enough to take about 5 % of
    the delivery loop's CPU, mostly re-scanning long-lived start-up objects."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def _run_dev(settings: Settings) -> int:
    from wirepost.devdb import DevDatabase

    database = DevDatabase(settings.data_dir)
    print(f"wirepost dev: starting embedded Postgres in {database.folder} ...", flush=True)
    database.start()
    try:
        host = settings.host if settings.host != "0.0.0.0" else "127.0.0.1"  # noqa: S104
        settings = dataclasses.replace(
            settings,
            dev=True,
            host=host,
            database_url=database.url,
            token=(DEV_TOKEN, *settings.token),
            current_signing_key=DEV_CURRENT_SIGNING_KEY,
            next_signing_key=DEV_NEXT_SIGNING_KEY,
        )
        return _run_server(settings, migrate=True, wait_for_db=10, banner=_banner(settings))
    finally:
        database.stop()


def _banner(settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return f"""
Wirepost {__version__} (dev mode) is listening on {base}

  QSTASH_URL={base}
  QSTASH_TOKEN={DEV_TOKEN}
  QSTASH_CURRENT_SIGNING_KEY={DEV_CURRENT_SIGNING_KEY}
  QSTASH_NEXT_SIGNING_KEY={DEV_NEXT_SIGNING_KEY}

Loopback destinations are allowed. Try:

  curl -X POST {base}/v2/publish/http://127.0.0.1:9000/hook \\
       -H "Authorization: Bearer {DEV_TOKEN}" \\
       -H "Upstash-Delay: 5s" -d '{{"hello":"world"}}'

Press Ctrl-C to stop.
"""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
