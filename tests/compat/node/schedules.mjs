// schedules create (generated and custom id), get, list, pause, resume, delete.
import { client, failure, input, output } from "./lib.mjs";

const c = client();
const { sink, tag, scheduleId, queue } = input;

const created = await c.schedules.create({
  destination: `${sink}/${tag}/scheduled`,
  cron: "*/5 * * * *",
  body: JSON.stringify({ job: "report" }),
  headers: { "X-Job": "node" },
  method: "PUT",
  retries: 2,
  delay: 30,
  label: tag,
});
const custom = await c.schedules.create({
  destination: `${sink}/${tag}/queued`,
  cron: "CRON_TZ=America/New_York 0 8 * * *",
  body: "plain",
  headers: { "Content-Type": "text/plain" },
  scheduleId,
  queueName: queue,
});
const got = await c.schedules.get(created.scheduleId);
const gotCustom = await c.schedules.get(scheduleId);
const listed = (await c.schedules.list()).map((s) => s.scheduleId);
await c.schedules.pause({ schedule: created.scheduleId });
const paused = (await c.schedules.get(created.scheduleId)).isPaused;
await c.schedules.resume({ schedule: created.scheduleId });
const resumed = (await c.schedules.get(created.scheduleId)).isPaused;
await c.schedules.delete(created.scheduleId);
await c.schedules.delete(scheduleId);
const afterDelete = await failure(c.schedules.get(created.scheduleId));
const listedAfter = (await c.schedules.list()).map((s) => s.scheduleId);

output({ created, custom, got, gotCustom, listed, paused, resumed, afterDelete, listedAfter });
