/**
 * The worker process: the extension host forks this script (with the system Node or VS Code's
 * own runtime) and talks to it over IPC with the protocol of `protocol/messages.ts`. It runs one
 * experiment with the same code as the CLI — on a run thread (run/thread.ts), so that run/cancel,
 * which arrives on this thread, reaches the loops inside a step — records it, and streams every
 * event back.
 */
import { startRunThread, isRunThread, runThreadMain, ThreadRun } from '../run/thread';
import { RunRecorder } from '../run/recorder';
import { RunError } from '../experiments/types';
import { parseHostCommand, WorkerEvent, Envelope, HostCommand } from '../protocol/messages';

let cancelled = false;
let busy = false;
let current: ThreadRun | undefined;

let pending = 0;

/** Send over IPC, counting messages not yet handed to the channel (so exit can wait for them). */
function send(env: Envelope): void {
  if (!process.send) return;
  pending++;
  process.send(env, undefined, {}, () => pending--);
}

/** Exit once every event reached the channel (a final run/finished must not be lost), or after 10 s. */
function exitWhenFlushed(code: number): void {
  const deadline = Date.now() + 10_000;
  const poll = () => (pending === 0 || Date.now() > deadline ? process.exit(code) : setTimeout(poll, 10));
  poll();
}

async function start(cmd: Extract<HostCommand, { type: 'run/start' }>): Promise<void> {
  busy = true;
  const t0 = Date.now();
  const recorder = cmd.spec.outDir ? new RunRecorder(cmd.spec.outDir, cmd.runId) : undefined;
  let seq = 0;
  const emit = (e: WorkerEvent) => {
    const env = recorder ? recorder.record(e) : ({ ...e, runId: cmd.runId, seq: seq++, t: Date.now() } as Envelope);
    send(env);
  };
  let code = 0;
  try {
    current = startRunThread(__filename, cmd.spec, emit);
    if (cancelled) current.cancel();
    await current.done;
  } catch (err) {
    const kind = err instanceof RunError ? err.kind : /out of memory|Array buffer allocation failed|Aborted\(OOM\)/i.test(String(err)) ? 'out-of-memory' : 'error';
    emit({ type: 'run/failed', kind, reason: err instanceof Error ? err.message : String(err), elapsedMs: Date.now() - t0 });
    code = 1;
  } finally {
    recorder?.close();
    busy = false;
  }
  exitWhenFlushed(code);
}

function listen(): void {
  process.on('message', (raw: unknown) => {
    let cmd: HostCommand;
    try {
      cmd = parseHostCommand(raw);
    } catch (err) {
      process.stderr.write(`rbp worker: bad command: ${(err as Error).message}\n`);
      return;
    }
    if (cmd.type === 'run/cancel') {
      cancelled = true;
      current?.cancel();
      // At once (this thread is free): the host then knows the worker heard, and whether to wait for a checkpoint.
      process.send?.({ type: 'worker/stopping', pid: process.pid, saving: current?.unsaved() ?? false });
    } else if (!busy) void start(cmd);
  });

  process.on('disconnect', () => process.exit(0));
  // Tell the host the worker is alive and listening.
  if (process.send) process.send({ type: 'worker/ready', pid: process.pid });
}

// This script on its run thread computes; in the process it listens to the host.
if (isRunThread()) void runThreadMain();
else listen();
