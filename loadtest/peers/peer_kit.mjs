// What the Node peers share: command-line options, the keep-alive POST to the sink, the job body,
// JSON-line reports on stdout and the open-loop publisher of steady mode.
// It must stay tiny: each peer file should read as "that queue's API, used as its docs say".
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

export function readOptions() {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      'sink-url': { type: 'string' },
      mode: { type: 'string', default: 'drain' },
      n: { type: 'string', short: 'n', default: '20000' },
      measure: { type: 'string', default: '0' },
      chunk: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '10' },
      timeout: { type: 'string', default: '300' },
    },
  });
  if (!values['database-url'] || !values['sink-url']) {
    throw new Error('--database-url and --sink-url are required');
  }
  const n = Number(values.n);
  const measure = Number(values.measure) || n;
  return {
    databaseUrl: values['database-url'],
    sinkUrl: values['sink-url'],
    mode: values.mode,
    n,
    measure: Math.min(measure, n),
    chunk: Number(values.chunk),
    rate: Number(values.rate),
    duration: Number(values.duration),
    timeoutSeconds: Number(values.timeout),
  };
}

export function nowNs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}

export function jobBody(seq) {
  return { t: nowNs(), seq };
}

export function report(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

export function makeSinkPoster(sinkUrl, connections = 128) {
  const dispatcher = new Agent({ connections, keepAliveTimeout: 30_000 });
  return async function post(data) {
    const { statusCode, body } = await request(sinkUrl, {
      method: 'POST',
      body: JSON.stringify(data),
      headers: { 'content-type': 'application/json' },
      dispatcher,
    });
    await body.dump();
    if (statusCode !== 200) throw new Error(`sink answered ${statusCode}`);
  };
}

// Counts processed jobs and resolves once `target` of them are done.
export function makeCompletionCounter(target) {
  let done = 0;
  let resolve;
  const finished = new Promise((r) => { resolve = r; });
  return {
    finished,
    add(count) {
      done += count;
      if (done >= target) resolve(done);
    },
    get done() { return done; },
  };
}

// Sends one job at a time, open loop, at `rate` per second for `duration` seconds, through
// `enqueueOne(seq)`. Latency is measured from each job's scheduled time.
export async function publishAtRate(enqueueOne, rate, duration) {
  const total = Math.floor(rate * duration);
  const start = performance.now();
  const latencies = [];
  const pending = new Set();
  let failures = 0;
  for (let seq = 0; seq < total; seq++) {
    const due = start + (seq * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const p = enqueueOne(seq).then(
      () => latencies.push(performance.now() - due),
      () => { failures += 1; },
    );
    pending.add(p);
    p.finally(() => pending.delete(p));
  }
  await Promise.all(pending);
  return { published: latencies.length, failures, latencies, seconds: (performance.now() - start) / 1000 };
}

export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (q) => (sorted.length ? sorted[Math.max(0, Math.ceil((q / 100) * sorted.length) - 1)] : null);
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}

export function withTimeout(promise, seconds, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// After `drained` the harness reads this process's CPU time, then closes stdin to let it exit.
export function waitForRelease(seconds = 30) {
  if (process.stdin.isTTY) return Promise.resolve();
  const released = new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
  return withTimeout(released, seconds, 'the release').catch(() => {});
}
