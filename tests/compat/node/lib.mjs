// Shared by the compat scripts: the test's input, the client, polling, and the one JSON line
// each script prints last (pytest parses it). Nothing here talks to anything but Wirepost.
import { Client } from "@upstash/qstash";

/** The JSON object pytest passed as the first argument. */
export const input = JSON.parse(process.argv[2] ?? "{}");

/** A client configured the way an app is: QSTASH_URL and QSTASH_TOKEN from the environment. */
export const client = () => new Client({ retry: false });

/** Poll `probe` until it returns a truthy value; fail after `timeoutMs`. */
export async function waitFor(probe, timeoutMs = 10000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Print the result as the last line of stdout. */
export function output(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** The error's class name, status and text, for tests that expect a failure. */
export async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return { name: error.name, status: error.status, message: String(error.message) };
  }
  return null;
}
