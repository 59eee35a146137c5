/** The dashboard's data for the run it shows, built from protocol events (live or replayed). */
import type { Envelope, RunStarted, ForwardTrace, BackwardTraceMsg, Diagnostics, RunFinished, RunFailed, MemoryMsg, GradcheckRowMsg, GradcheckResultMsg, ProbeMsg, CheckpointMsg } from '../src/protocol/messages';

/** Forward/backward traces kept for drawing: the latest step in front, earlier ones fading. */
export const TRACE_HISTORY = 6;
/** Log lines kept. */
export const MAX_LOG_LINES = 200;

export interface Point {
  x: number;
  y: number;
}

export class RunModel {
  runId: string | undefined;
  started: RunStarted | undefined;
  forward: ForwardTrace[] = [];
  backward: BackwardTraceMsg[] = [];
  /** metric name → points, train metrics ('loss', ...) and eval metrics ('eval:val_acc', ...). */
  series = new Map<string, Point[]>();
  memory: MemoryMsg[] = [];
  diagnostics: Diagnostics | undefined;
  /** When each training step ended (the ETA). */
  stepTimes: { step: number; elapsedMs: number }[] = [];
  /** Every ρ(J) estimate of the run (step 0 and each evaluation), by step: the ρ(J) chart. */
  rhoHistory: Diagnostics[] = [];
  end: RunFinished | RunFailed | undefined;
  lastStep = -1;
  lastElapsedMs = 0;
  logs: string[] = [];
  /** The latest warning the run logged (a training that diverges while staying finite), shown as a banner. */
  warning: string | undefined;
  /** Gradient check (method 'gradcheck'): rows as they stream in, then the whole report. */
  gradcheckRows: GradcheckRowMsg['row'][] = [];
  gradcheck: GradcheckResultMsg['report'] | undefined;
  /** Gradient probes (the training gradient's error against exact and BPTT), by step. */
  probes: ProbeMsg[] = [];
  /** Checkpoints written, by step (Compare TBPTT vs Neumann-RBP at one of them). */
  checkpoints: CheckpointMsg[] = [];
  /** Bumped on every change, so charts redraw only what moved. */
  version = { forward: 0, backward: 0, metrics: 0, memory: 0, header: 0, log: 0, compare: 0, probe: 0, rho: 0 };

  reset(runId: string | undefined): void {
    this.runId = runId;
    this.started = undefined;
    this.forward = [];
    this.backward = [];
    this.series = new Map();
    this.memory = [];
    this.diagnostics = undefined;
    this.rhoHistory = [];
    this.stepTimes = [];
    this.end = undefined;
    this.lastStep = -1;
    this.lastElapsedMs = 0;
    this.logs = [];
    this.warning = undefined;
    this.gradcheckRows = [];
    this.gradcheck = undefined;
    this.probes = [];
    this.checkpoints = [];
    for (const k of Object.keys(this.version) as (keyof RunModel['version'])[]) this.version[k]++;
  }

  /** A gradient check (Compare TBPTT vs Neumann-RBP) rather than a training run. */
  get isGradcheck(): boolean {
    return this.started?.method === 'gradcheck';
  }

  get status(): 'idle' | 'running' | 'completed' | 'cancelled' | 'failed' {
    if (this.end) return this.end.type === 'run/failed' ? 'failed' : this.end.status;
    return this.runId ? 'running' : 'idle';
  }

  apply(e: Envelope): void {
    if (this.runId && e.runId !== this.runId) return;
    this.runId ??= e.runId;
    switch (e.type) {
      case 'run/started':
        this.started = e;
        this.version.header++;
        if (e.notes.length) this.pushLog(...e.notes.map((n) => `note: ${n}`));
        break;
      case 'trace/forward':
        this.forward.push(e);
        if (this.forward.length > TRACE_HISTORY) this.forward.shift();
        this.version.forward++;
        break;
      case 'trace/backward':
        this.backward.push(e);
        if (this.backward.length > TRACE_HISTORY) this.backward.shift();
        this.version.backward++;
        break;
      case 'metrics':
        for (const [k, v] of Object.entries(e.values)) {
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          if (e.kind === 'train' && (k === 'step_ms' || k === 'forward_rel_residual')) continue;
          const key = e.kind === 'eval' ? `eval:${k}` : k;
          let pts = this.series.get(key);
          if (!pts) this.series.set(key, (pts = []));
          const last = pts[pts.length - 1];
          if (last && last.x >= e.step) {
            if (last.x === e.step) last.y = v;
            continue; // keep x sorted for decimation
          }
          pts.push({ x: e.step, y: v });
        }
        if (e.kind === 'train' && (!this.stepTimes.length || this.stepTimes[this.stepTimes.length - 1].step < e.step)) this.stepTimes.push({ step: e.step, elapsedMs: e.elapsedMs });
        this.lastStep = Math.max(this.lastStep, e.step);
        this.lastElapsedMs = e.elapsedMs;
        this.version.metrics++;
        this.version.header++;
        break;
      case 'memory':
        if (!this.memory.length || this.memory[this.memory.length - 1].step < e.step) this.memory.push(e);
        this.version.memory++;
        break;
      case 'probe':
        // Steps ascend (a replayed run is thinned, never reordered); a repeat replaces.
        if (this.probes.length && this.probes[this.probes.length - 1].step >= e.step) {
          if (this.probes[this.probes.length - 1].step === e.step) this.probes[this.probes.length - 1] = e;
        } else this.probes.push(e);
        this.version.probe++;
        break;
      case 'checkpoint':
        this.checkpoints = [...this.checkpoints.filter((c) => c.step !== e.step), e].sort((a, b) => a.step - b.step);
        this.version.header++;
        break;
      case 'diagnostics':
        this.diagnostics = e;
        // Steps ascend (a replay is thinned, never reordered); a repeat replaces.
        if (this.rhoHistory.length && this.rhoHistory[this.rhoHistory.length - 1].step >= e.step) {
          if (this.rhoHistory[this.rhoHistory.length - 1].step === e.step) this.rhoHistory[this.rhoHistory.length - 1] = e;
        } else this.rhoHistory.push(e);
        this.version.rho++;
        this.version.header++;
        break;
      case 'log':
        this.pushLog(`${e.level === 'info' ? '' : e.level + ': '}${e.text}`);
        if (e.level === 'warn') {
          this.warning = e.text;
          this.version.header++;
        }
        break;
      case 'gradcheck/row':
        this.gradcheckRows.push(e.row);
        this.lastStep = this.gradcheckRows.length - 1;
        this.version.compare++;
        this.version.header++;
        break;
      case 'gradcheck/result':
        this.gradcheck = e.report;
        this.gradcheckRows = e.report.rows;
        this.version.compare++;
        break;
      case 'run/finished':
      case 'run/failed':
        this.end = e;
        this.version.compare++;
        this.lastElapsedMs = e.elapsedMs || this.lastElapsedMs;
        this.version.header++;
        this.pushLog(e.type === 'run/failed' ? `run failed (${e.kind}): ${e.reason}` : `run ${e.status} in ${(e.elapsedMs / 1000).toFixed(1)} s`);
        break;
    }
  }

  private pushLog(...lines: string[]): void {
    this.logs.push(...lines);
    if (this.logs.length > MAX_LOG_LINES) this.logs.splice(0, this.logs.length - MAX_LOG_LINES);
    this.version.log++;
  }
}
