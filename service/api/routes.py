"""The single route table. Destinations are taken from the raw target by the handlers."""

from __future__ import annotations

from aiohttp import web

from wirepost.api import (
    batch,
    dlq,
    enqueue,
    events,
    flow_control,
    health,
    keys,
    messages,
    publish,
    queues,
    schedules,
    topics,
)


def setup_health_route(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)


def setup_routes(app: web.Application) -> None:
    setup_health_route(app)
    r = app.router
    r.add_post("/v2/publish/{destination:.+}", publish.publish)
    r.add_post("/v2/enqueue/{queue}/{destination:.+}", enqueue.enqueue)
    r.add_post("/v2/batch", batch.batch)
    r.add_get("/v2/messages/{message_id}", messages.get_message)
    r.add_delete("/v2/messages/{message_id}", messages.cancel_message)
    r.add_delete("/v2/messages", messages.cancel_messages)
    r.add_delete("/v2/messages/", messages.cancel_messages)  # trailing slash = the collection
    r.add_get("/v2/topics", topics.list_groups)
    r.add_get("/v2/topics/", topics.list_groups)
    r.add_get("/v2/topics/{name}", topics.get_group)
    r.add_delete("/v2/topics/{name}", topics.delete_group)
    r.add_post("/v2/topics/{name}/endpoints", topics.upsert_endpoints)
    r.add_delete("/v2/topics/{name}/endpoints", topics.remove_endpoints)
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
    for base in ("/v2/queues", "/v2/queues/"):
        r.add_post(base, queues.upsert_queue)
        r.add_get(base, queues.list_queues)
    r.add_get("/v2/queues/{queue}", queues.get_queue)
    r.add_delete("/v2/queues/{queue}", queues.delete_queue)
    r.add_post("/v2/queues/{queue}/pause", queues.pause_queue)
    r.add_post("/v2/queues/{queue}/resume", queues.resume_queue)
    r.add_get("/v2/flowControl", flow_control.list_flow_controls)
    r.add_get("/v2/flowControl/{key}", flow_control.get_flow_control)
    r.add_post("/v2/flowControl/{key}/pause", flow_control.pause_flow_control)
    r.add_post("/v2/flowControl/{key}/resume", flow_control.resume_flow_control)
    r.add_post("/v2/flowControl/{key}/pin", flow_control.pin_flow_control)
    r.add_post("/v2/flowControl/{key}/unpin", flow_control.unpin_flow_control)
    r.add_post("/v2/flowControl/{key}/resetRate", flow_control.reset_rate)
    r.add_get("/v2/globalParallelism", flow_control.global_parallelism)
    for base in ("/v2/schedules", "/v2/Schedules"):  # qstash-go writes a capital S
        r.add_get(base, schedules.list_schedules)
        r.add_get(base + "/", schedules.list_schedules)
        r.add_get(base + "/{schedule_id}", schedules.get_schedule)
        r.add_delete(base + "/{schedule_id}", schedules.delete_schedule)
        r.add_patch(base + "/{schedule_id}/pause", schedules.pause_schedule)
        r.add_patch(base + "/{schedule_id}/resume", schedules.resume_schedule)
        r.add_post(base + "/{rest:.+}", schedules.post_schedule)  # create, or <id>/pause|resume
