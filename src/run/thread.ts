/**
 * A run (training or a gradient check) on a worker thread of this process. A step is synchronous
 * — 100,000 forward updates show nothing and take no signal for a minute — so a SIGINT handler on
 * the computing thread only runs after the step. Here the main thread stays free: it takes Ctrl-C
 * and sets a shared flag that the forward and backward loops read with Atomics (the run's
 * `cancelled` check), and it receives every event the moment it is emitted.
 */
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import type { RunSpec, WorkerEvent } from '../protocol/messages';
import { RunError } from '../experiments/types';
import { runExperiment } from './runner';
import { runGradcheck, GradcheckReport } from './gradcheck';

interface ThreadData {
  rbpRunThread: true;
  spec: RunSpec;
  /** Two Int32s: [0] 0 running, 1 cancel; [1] 1 while Stop would leave finished steps to checkpoint (RunControl.unsaved). */
  cancel: SharedArrayBuffer;
}

type FromThread =
  | { kind: 'event'; event: WorkerEvent }
  | { kind: 'done'; status: 'completed' | 'cancelled'; report?: GradcheckReport }
  | { kind: 'error'; errorKind: RunError['kind']; message: string };

export interface ThreadOutcome {
  status: 'completed' | 'cancelled';
  /** A gradient check's report (when it completed). */
  report?: GradcheckReport;
}

export interface ThreadRun {
  /** Ask the loops to stop (they throw at their next iteration; the run ends 'cancelled'). */
  cancel(): void;
  /** Whether the run has finished steps no checkpoint holds yet: stopped now, it writes one first. */
  unsaved(): boolean;
  /** Rejects with the run's RunError (or the thread's own error). */
  readonly done: Promise<ThreadOutcome>;
}

/** Start `spec` on a thread running `script` (a bundle that calls `runThreadMain` when `isRunThread()`). */
export function startRunThread(script: string, spec: RunSpec, emit: (e: WorkerEvent) => void): ThreadRun {
  const cancel = new SharedArrayBuffer(8);
  const flag = new Int32Array(cancel);
  const data: ThreadData = { rbpRunThread: true, spec, cancel };
  const worker = new Worker(script, { workerData: data });
  const done = new Promise<ThreadOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
    };
    worker.on('message', (m: FromThread) => {
      if (m.kind === 'event') emit(m.event);
      else if (m.kind === 'done') settle(() => resolve({ status: m.status, report: m.report }));
      else settle(() => reject(new RunError(m.errorKind, m.message)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the run's thread ended (exit code ${code}) before the run did`))));
  });
  return { cancel: () => Atomics.store(flag, 0, 1), unsaved: () => Atomics.load(flag, 1) !== 0, done };
}

/**
 * Run `spec` on this thread, with the same interface as `startRunThread` (the CLI's `main` called
 * in-process, e.g. by tests): cancel() is seen by the loops only once this thread is free, i.e.
 * between steps.
 */
export function startRunHere(spec: RunSpec, emit: (e: WorkerEvent) => void): ThreadRun {
  let cancelled = false;
  let unsaved = false;
  const control = { cancelled: () => cancelled, unsaved: (p: boolean) => void (unsaved = p) };
  const done = spec.gradcheck
    ? runGradcheck(spec, emit, control).then((report): ThreadOutcome => ({ status: report ? 'completed' : 'cancelled', report }))
    : runExperiment(spec, emit, control).then((status): ThreadOutcome => ({ status }));
  return { cancel: () => void (cancelled = true), unsaved: () => unsaved, done };
}

/** Whether this is a run thread started by `startRunThread`. */
export function isRunThread(): boolean {
  return !isMainThread && (workerData as Partial<ThreadData> | null)?.rbpRunThread === true;
}

/** The thread's side: run the request, post its events, its end or its error. */
export async function runThreadMain(): Promise<void> {
  const { spec, cancel } = workerData as ThreadData;
  const flag = new Int32Array(cancel);
  const post = (m: FromThread) => parentPort!.postMessage(m);
  const control = { cancelled: () => Atomics.load(flag, 0) !== 0, unsaved: (p: boolean) => void Atomics.store(flag, 1, p ? 1 : 0) };
  const emit = (event: WorkerEvent) => post({ kind: 'event', event });
  try {
    if (spec.gradcheck) {
      const report = await runGradcheck(spec, emit, control);
      post({ kind: 'done', status: report ? 'completed' : 'cancelled', report });
    } else {
      post({ kind: 'done', status: await runExperiment(spec, emit, control) });
    }
  } catch (err) {
    post({ kind: 'error', errorKind: err instanceof RunError ? err.kind : 'error', message: err instanceof Error ? err.message : String(err) });
  }
}
