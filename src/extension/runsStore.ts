/**
 * The runs of a workspace: the recorded ones under `.rbp-lab/runs/` plus the live ones, with a
 * change event. vscode-free; the dashboard (and later the runs tree view) subscribe to it.
 */
import * as path from 'path';
import { listRuns, readRun, summarize, RunDescription } from '../run/recorder';
import type { Envelope, RunSummary } from '../protocol/messages';
import type { WorkerRun } from './workerHost';

export type Listener<T> = (e: T) => void;

/** A minimal event emitter with disposable subscriptions (the shape of vscode.EventEmitter). */
export class Emitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (l: Listener<T>): { dispose(): void } => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        console.error('rbp-lab listener failed', err);
      }
    }
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export interface RunEvent {
  runId: string;
  event: Envelope;
}

export class RunsStore {
  private readonly active = new Map<string, WorkerRun>();
  private readonly changed = new Emitter<void>();
  private readonly events = new Emitter<RunEvent>();
  /** Fires when a run starts, ends, or the list changes. */
  readonly onDidChange = this.changed.event;
  /** Every event of every live run, as it is recorded. */
  readonly onRunEvent = this.events.event;

  constructor(readonly root: string) {}

  dirOf(runId: string): string {
    return path.join(this.root, runId);
  }

  list(): RunDescription[] {
    return listRuns(this.root);
  }

  summaries(): RunSummary[] {
    return this.list().map(summarize);
  }

  read(runId: string): ReturnType<typeof readRun> {
    return readRun(this.dirOf(runId));
  }

  get activeRuns(): WorkerRun[] {
    return [...this.active.values()];
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  getActive(runId: string): WorkerRun | undefined {
    return this.active.get(runId);
  }

  /** Track a live run: its events and its end are published. */
  track(run: WorkerRun): void {
    this.active.set(run.runId, run);
    this.changed.fire();
    void run.done.then(() => {
      this.active.delete(run.runId);
      this.changed.fire();
    });
  }

  /** Called by the run's onEvent callback. */
  publish(runId: string, event: Envelope): void {
    this.events.fire({ runId, event });
    if (event.type === 'run/started') this.changed.fire();
  }

  refresh(): void {
    this.changed.fire();
  }

  dispose(): void {
    for (const r of this.active.values()) r.dispose();
    this.changed.dispose();
    this.events.dispose();
  }
}
