// DLQ listMessages (filter, dlqIds), delete (one, array, object, filter), retry; logs.
import { client, failure, input, output, waitFor } from "./lib.mjs";

const c = client();
const { sink, tag } = input;
const dlqFor = async (count) =>
  waitFor(
    async () => {
      const page = await c.dlq.listMessages({ filter: { label: tag } });
      return page.messages.length === count && page.messages;
    },
    10000,
    `${count} DLQ entries`,
  );

const failing = [];
for (let n = 0; n < 4; n++) {
  const sent = await c.publishJSON({
    url: `${sink}/status/500/${tag}`,
    body: { n },
    retries: 0,
    label: tag,
  });
  failing.push(sent.messageId);
}
const ok = await c.publishJSON({ url: `${sink}/${tag}/ok`, body: { ok: true }, label: tag });

const entries = await dlqFor(4);
const ids = entries.map((e) => e.dlqId);
const byIds = await c.dlq.listMessages({ dlqIds: ids.slice(0, 2) });
const byMessage = await c.dlq.listMessages({ filter: { messageId: failing[3] } });
const deletedOne = await c.dlq.delete(ids[0]);
const deleteAgain = await failure(c.dlq.delete(ids[0]));
const deletedArray = await c.dlq.delete([ids[1]]);
const deletedObject = await c.dlq.deleteMany({ dlqIds: [ids[2]] });
const retried = await c.dlq.retry(ids[3]);
const afterRetry = await dlqFor(1);
const deletedFilter = await c.dlq.delete({ filter: { label: tag } });
const remaining = (await c.dlq.listMessages({ filter: { label: tag } })).messages;

const delivered = await waitFor(
  async () => {
    const page = await c.logs({ filter: { messageId: ok.messageId, state: "DELIVERED" } });
    return page.logs.length > 0 && page;
  },
  10000,
  "DELIVERED log",
);
const byMessageIds = await c.logs({ messageIds: [ok.messageId, failing[0]] });
const firstPage = await c.logs({ count: 2, filter: { messageId: ok.messageId } });
const secondPage = await c.logs({
  count: 2,
  cursor: firstPage.cursor,
  filter: { messageId: ok.messageId },
});
const events = await c.events({ filter: { label: [tag, `${tag}-none`], state: "FAILED" } });

output({
  failing,
  ok,
  entries,
  byIds,
  byMessage,
  deletedOne,
  deleteAgain,
  deletedArray,
  deletedObject,
  retried,
  afterRetry,
  deletedFilter,
  remaining,
  delivered,
  byMessageIds,
  firstPage,
  secondPage,
  events,
});
