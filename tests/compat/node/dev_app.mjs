// An app written for QStash's local development mode: QSTASH_DEV=1 (and QSTASH_DEV_PORT), no
// token, no base URL, no keys. It publishes and reads back, as it would against `qstash dev`.
import { Client } from "@upstash/qstash";
import { input, output } from "./lib.mjs";

const c = new Client();
const published = await c.publishJSON({ url: `${input.sink}/${input.tag}/dev`, body: { dev: true } });
const message = await c.messages.get(published.messageId);
const logs = await c.logs({ filter: { messageId: published.messageId } });
output({ published, message, logs });
