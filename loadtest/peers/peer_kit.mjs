// What the Node peers share: command-line options, the keep-alive POST to the sink, the job body,
// JSON-line reports on stdout and the open-loop publisher of steady mode.
// It must stay tiny: each peer file should read as "that queue's API, used as its docs say".
import { fork } from 'node:child_process';
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
      workers: { type: 'string', default: '1' },
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
    workers: Math.max(1, Number(values.workers)),
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

// --workers K (drain): the program forks K - 1 copies of itself that only work, so the queue runs
// as K processes, as Wirepost does with WIREPOST_WORKERS=K. A copy reports its finished jobs to
// the parent every 50 ms, so the parent's one counter sees every job.
export const WORKER_CHILD = process.env.PEER_WORKER_CHILD === '1';

export function forkWorkers(count, counter) {
  const children = [];
  for (let i = 1; i < count; i++) {
    const child = fork(process.argv[1], process.argv.slice(2), {
      env: { ...process.env, PEER_WORKER_CHILD: '1' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.on('message', (done) => counter.add(done));
    children.push(child);
  }
  return () => Promise.all(children.map((child) => new Promise((resolve) => {
    child.once('exit', resolve);
    child.send('stop');
  })));
}

// The counter of a forked copy: batches its finished jobs to the parent; `stopped` resolves
// when the parent asks it to stop.
export function childCounter() {
  let pending = 0;
  const flush = () => { if (pending) { process.send(pending); pending = 0; } };
  const timer = setInterval(flush, 50);
  const stopped = new Promise((resolve) => {
    process.on('message', (message) => { if (message === 'stop') resolve(); });
  });
  return {
    add(count) { pending += count; },
    stopped,
    close() { clearInterval(timer); flush(); },
  };
}
