"""The single route table. Destinations are taken from the raw target by the handlers."""

from __future__ import annotations

from aiohttp import web

from wirepost.api import dlq, events, health, keys, messages, publish


def setup_health_route(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)


def setup_routes(app: web.Application) -> None:
    setup_health_route(app)
    r = app.router
    r.add_post("/v2/publish/{destination:.+}", publish.publish)
    r.add_get("/v2/messages/{message_id}", messages.get_message)
    r.add_delete("/v2/messages/{message_id}", messages.cancel_message)
    r.add_get("/v2/events", events.list_events)
    r.add_get("/v2/logs", events.list_logs)
    r.add_get("/v2/dlq", dlq.list_dlq)
    r.add_delete("/v2/dlq", dlq.delete_dlq_many)
    r.add_post("/v2/dlq/retry", dlq.retry_dlq_many)
    r.add_post("/v2/dlq/retry/{dlq_id}", dlq.retry_dlq)
    r.add_get("/v2/dlq/{dlq_id}", dlq.get_dlq)
    r.add_delete("/v2/dlq/{dlq_id}", dlq.delete_dlq)
    r.add_get("/v2/keys", keys.get_keys)
    r.add_post("/v2/keys/rotate", keys.rotate_keys)
    r.add_post("/v2/rotate", keys.rotate_keys)
