// URL groups: addEndpoints, get, list, publishJSON to the group, removeEndpoints, delete.
import { client, failure, input, output } from "./lib.mjs";

const c = client();
const { sink, tag, group } = input;

await c.urlGroups.addEndpoints({
  name: group,
  endpoints: [{ url: `${sink}/${tag}/one`, name: "one" }, { url: `${sink}/${tag}/two` }],
});
const got = await c.urlGroups.get(group);
const listed = (await c.urlGroups.list()).map((g) => g.name);
const published = await c.publishJSON({ urlGroup: group, body: { fan: "out" } });
const message = await c.messages.get(published[0].messageId);
await c.urlGroups.removeEndpoints({ name: group, endpoints: [{ name: "one" }] });
const afterRemove = await c.urlGroups.get(group);
await c.urlGroups.delete(group);
const afterDelete = await failure(c.urlGroups.get(group));

output({ got, listed, published, message, afterRemove, afterDelete });
