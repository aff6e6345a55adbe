// pg-boss 12 as a peer: jobs inserted through its API, a worker POSTs each job to the sink.
// Tuned as measured in ENVIRONMENT.md: batchSize 100, localConcurrency 2, polling every 0.5 s,
// plus burstWhenBatchFull (12.3x waits a polling interval after every batch without it).
// --workers K (drain) runs the worker in K processes (peer_kit.mjs forkWorkers).
// Usage: node pgboss.mjs --database-url URL --sink-url URL [--mode drain|steady] [-n N] ...
import { PgBoss } from 'pg-boss';
import {
  childCounter, forkWorkers, jobBody, makeCompletionCounter, makeSinkPoster, publishAtRate,
  readOptions, report, summarize, waitForRelease, withTimeout, WORKER_CHILD,
} from './peer_kit.mjs';

const QUEUE = 'bench';
const WORK_OPTIONS = {
  batchSize: 100, localConcurrency: 2, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true,
};

async function main() {
  const options = readOptions();
  const post = makeSinkPoster(options.sinkUrl);
  const boss = new PgBoss({ connectionString: options.databaseUrl, max: 10 });
  // pg-boss reports recoverable trouble (a failed maintenance run) here: note it, keep going.
  boss.on('error', (error) => report('warning', { message: String(error) }));
  await boss.start();
  const startWorker = (counter) => boss.work(QUEUE, WORK_OPTIONS, async (jobs) => {
    await Promise.all(jobs.map((job) => post(job.data)));
    counter.add(jobs.length);
  });
  if (WORKER_CHILD) {
    const counter = childCounter();
    await startWorker(counter);
    await counter.stopped;
    counter.close();
    await boss.stop({ graceful: false, timeout: 2000 });
    return;
  }
  await boss.createQueue(QUEUE);
  report('ready');

  const target = options.mode === 'steady' ? Math.floor(options.rate * options.duration) : options.measure;
  const counter = makeCompletionCounter(target);
  let stopCopies = async () => {};

  let started;
  if (options.mode === 'steady') {
    await startWorker(counter);
    started = performance.now();
    const sent = await publishAtRate((seq) => boss.send(QUEUE, jobBody(seq)), options.rate, options.duration);
    report('published', { published: sent.published, failures: sent.failures, seconds: sent.seconds,
      publish_latency_ms: summarize(sent.latencies) });
  } else {
    const enqueueStart = performance.now();
    for (let first = 0; first < options.n; first += options.chunk) {
      const jobs = [];
      for (let seq = first; seq < Math.min(first + options.chunk, options.n); seq++) {
        jobs.push({ data: jobBody(seq) });
      }
      await boss.insert(QUEUE, jobs);
    }
    const seconds = (performance.now() - enqueueStart) / 1000;
    report('enqueued', { n: options.n, seconds, rate: options.n / seconds });
    started = performance.now();
    stopCopies = forkWorkers(options.workers, counter);
    await startWorker(counter);
  }
  await withTimeout(counter.finished, options.timeoutSeconds, 'the drain');
  const seconds = (performance.now() - started) / 1000;
  report('drained', { n: counter.done, seconds, rate: counter.done / seconds });
  await waitForRelease();
  await stopCopies();
  await boss.stop({ graceful: false, timeout: 2000 });
}

main().then(
  () => process.exit(0),
  (error) => { report('error', { message: String(error?.stack ?? error) }); process.exit(1); },
);
