// The Node SDK's Receiver on a delivery captured by the Python receiver. Keys come from the
// input, or (dev mode, QSTASH_DEV=1) from the SDK's own development credentials.
import { Receiver } from "@upstash/qstash";
import { input, output } from "./lib.mjs";

const { signature, body, url, currentSigningKey, nextSigningKey } = input;
const receiver = currentSigningKey ? new Receiver({ currentSigningKey, nextSigningKey }) : new Receiver();
try {
  output({ verified: await receiver.verify({ signature, body, url }) });
} catch (error) {
  output({ verified: false, name: error.name, message: String(error.message) });
}
