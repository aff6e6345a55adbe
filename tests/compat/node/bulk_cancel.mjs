// messages.cancel with a filter: the SDK always sends count=100 and documents that the server
// ignores it ("processes all matching pending messages in one call ... no batching loop").
import { client, input, output } from "./lib.mjs";

const c = client();
const { sink, tag, total } = input;
const items = Array.from({ length: total }, (_, n) => ({
  url: `${sink}/${tag}/never`,
  body: { n },
  delay: 3600,
  label: tag,
}));
await c.batchJSON(items);
const first = await c.messages.cancel({ filter: { label: tag } });
const second = await c.messages.cancel({ filter: { label: tag } });
output({ first, second });
