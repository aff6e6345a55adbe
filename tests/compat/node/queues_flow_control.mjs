// queue upsert/get/list/pause/resume/delete; flowControl get/pause/resume/pin/unpin/resetRate.
import { client, failure, input, output, waitFor } from "./lib.mjs";

const c = client();
const { sink, tag, queue, key } = input;

const q = c.queue({ queueName: queue });
await q.upsert({ parallelism: 2, paused: true });
const created = await q.get();
const listed = (await c.queue().list()).map((x) => x.name);
await q.resume();
const resumed = (await q.get()).paused;
await q.pause();
const paused = (await q.get()).paused;
await q.delete();
const afterDelete = await failure(q.get());

await c.publishJSON({
  url: `${sink}/${tag}/flow`,
  body: { flow: true },
  flowControl: { key, parallelism: 2, rate: 10, period: "1m" },
});
const info = await waitFor(() => c.flowControl.get(key).catch(() => null), 5000, "flow key");
await c.flowControl.pause(key);
const flowPaused = (await c.flowControl.get(key)).isPaused;
await c.flowControl.resume(key);
await c.flowControl.pin(key, { parallelism: 4, rate: 7, period: 30 });
const pinned = await c.flowControl.get(key);
await c.flowControl.unpin(key, { parallelism: true, rate: true });
const unpinned = await c.flowControl.get(key);
await c.flowControl.resetRate(key);
const global = await c.flowControl.getGlobalParallelism();

output({
  created,
  listed,
  resumed,
  paused,
  afterDelete,
  info,
  flowPaused,
  pinned,
  unpinned,
  global,
});
