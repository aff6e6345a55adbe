// graphile-worker 0.18 as a peer: jobs added through its API, a worker pool POSTs each to the sink.
// Tuned as measured in ENVIRONMENT.md: localQueue 500, completeJobBatchDelay 0, concurrency 50.
// --workers K (drain) runs the worker in K processes (peer_kit.mjs forkWorkers).
// Usage: node graphile.mjs --database-url URL --sink-url URL [--mode drain|steady] [-n N] ...
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import {
  childCounter, forkWorkers, jobBody, makeCompletionCounter, makeSinkPoster, publishAtRate,
  readOptions, report, summarize, waitForRelease, withTimeout, WORKER_CHILD,
} from './peer_kit.mjs';

const TASK = 'deliver';
// Per-job info lines ("Completed task ...") would cost more than the job: log warnings and errors only.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`${level}: ${message}\n`);
});

async function main() {
  const options = readOptions();
  const post = makeSinkPoster(options.sinkUrl);
  const startWorker = (counter) => run({
    connectionString: options.databaseUrl,
    concurrency: 50,
    maxPoolSize: 52,
    pollInterval: 500,
    noHandleSignals: true,
    logger,
    taskList: { [TASK]: async (payload) => { await post(payload); counter.add(1); } },
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } },
  });
  if (WORKER_CHILD) {
    const counter = childCounter();
    const runner = await startWorker(counter);
    await counter.stopped;
    counter.close();
    await Promise.race([runner.stop(), new Promise((r) => setTimeout(r, 2000))]);
    return;
  }
  const utils = await makeWorkerUtils({ connectionString: options.databaseUrl, logger });
  await utils.migrate();
  report('ready');

  const target = options.mode === 'steady' ? Math.floor(options.rate * options.duration) : options.measure;
  const counter = makeCompletionCounter(target);
  let stopCopies = async () => {};

  let runner;
  let started;
  if (options.mode === 'steady') {
    runner = await startWorker(counter);
    started = performance.now();
    const sent = await publishAtRate((seq) => utils.addJob(TASK, jobBody(seq)), options.rate, options.duration);
    report('published', { published: sent.published, failures: sent.failures, seconds: sent.seconds,
      publish_latency_ms: summarize(sent.latencies) });
  } else {
    const enqueueStart = performance.now();
    for (let first = 0; first < options.n; first += options.chunk) {
      const specs = [];
      for (let seq = first; seq < Math.min(first + options.chunk, options.n); seq++) {
        specs.push({ identifier: TASK, payload: jobBody(seq) });
      }
      await utils.addJobs(specs);
    }
    const seconds = (performance.now() - enqueueStart) / 1000;
    report('enqueued', { n: options.n, seconds, rate: options.n / seconds });
    started = performance.now();
    stopCopies = forkWorkers(options.workers, counter);
    runner = await startWorker(counter);
  }
  await withTimeout(counter.finished, options.timeoutSeconds, 'the drain');
  const seconds = (performance.now() - started) / 1000;
  report('drained', { n: counter.done, seconds, rate: counter.done / seconds });
  await waitForRelease();
  await stopCopies();
  await Promise.race([runner.stop(), new Promise((r) => setTimeout(r, 2000))]);
  await utils.release();
}

main().then(
  () => process.exit(0),
  (error) => { report('error', { message: String(error?.stack ?? error) }); process.exit(1); },
);
