// publishJSON, batchJSON, queue enqueueJSON, messages get/cancel (one, ids, filter).
import { client, failure, input, output } from "./lib.mjs";

const c = client();
const { sink, tag, queue } = input;

const published = await c.publishJSON({
  url: `${sink}/${tag}/json?source=node`,
  body: { hello: "node" },
  headers: { "X-From": "node" },
  method: "PUT",
  retries: 1,
  label: ["node", tag],
});
const message = await c.messages.get(published.messageId);
const batch = await c.batchJSON([
  { url: `${sink}/${tag}/batch-url`, body: { item: 1 }, headers: { "X-Batch": "1" } },
  { url: `${sink}/${tag}/batch-queue`, body: { item: 2 }, queueName: queue },
]);
const enqueued = await c.queue({ queueName: queue }).enqueueJSON({
  url: `${sink}/${tag}/enqueued`,
  body: { item: 3 },
});
const queueInfo = await c.queue({ queueName: queue }).get();

const delayed = await c.publishJSON({ url: `${sink}/${tag}/never`, body: { n: 1 }, delay: 3600 });
const cancelled = await c.messages.cancel(delayed.messageId);
const cancelAgain = await failure(c.messages.cancel(delayed.messageId));
const byId = await c.publishJSON({ url: `${sink}/${tag}/never`, body: { n: 2 }, delay: 3600 });
const byLabel = await c.publishJSON({
  url: `${sink}/${tag}/never`,
  body: { n: 3 },
  delay: 3600,
  label: `${tag}-bulk`,
});
const cancelledByIds = await c.messages.cancel([byId.messageId]);
const cancelledByFilter = await c.messages.cancel({ filter: { label: `${tag}-bulk` } });
const missing = await failure(c.messages.get("msg_does_not_exist"));

output({
  published,
  message,
  batch,
  enqueued,
  queueInfo,
  cancelled,
  cancelAgain,
  cancelledByIds,
  cancelledByFilter,
  cancelledIds: [delayed.messageId, byId.messageId, byLabel.messageId],
  missing,
});
