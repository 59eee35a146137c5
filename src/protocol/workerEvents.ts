/**
 * Worker → host: the events of a run. They are also what the run recorder writes, one JSON line
 * each, to `<run>/events.jsonl`, so a recorded run replays through the same code as a live one.
 * Numbers that can be NaN or ±Inf are `float` (JSON's null reads back as NaN) or, where a missing
 * value means something, `nullable(num)`.
 */
import { anyOf, arr, bool, check, float, message, messages, nullable, num, obj, oneOf, optional, record, str, anything, type Infer } from './schema';

/** The version of the run record format (run.json `protocol`). */
export const PROTOCOL_VERSION = 1;

const backendInfo = obj({
  name: str,
  description: str,
  skipped: arr(obj({ name: str, reason: str })),
  nodeVersion: str,
  execPath: str,
  /** On webgpu: the adapter the run used (what Dawn reports; software = a CPU emulation such as SwiftShader). */
  adapter: optional(obj({ vendor: str, architecture: str, device: str, description: str, software: bool })),
});
export type BackendInfo = Infer<typeof backendInfo>;

const verdictInfo = obj({
  level: oneOf('ok', 'warn', 'bad'),
  trustRbp: bool,
  /** NaN when ρ(J) could not be estimated. */
  rho: float,
  forwardConverged: bool,
  finalRelResidual: float,
  message: str,
});
export type VerdictInfo = Infer<typeof verdictInfo>;

const runStarted = message('run/started', {
  experiment: str,
  title: str,
  runner: str,
  method: str,
  /** null for a method that takes no K (BPTT, exact) and for a gradient check. */
  K: nullable(num),
  T: num,
  steps: num,
  stepLabel: str,
  backend: backendInfo,
  config: record(anything),
  startedAt: str,
  notes: arr(str),
  /** The process computing the run (lets a reader tell a live run from one whose process died). */
  pid: optional(num),
  /** A resumed training run: the run and step its checkpoint came from. */
  resumedFrom: optional(obj({ runId: str, step: num })),
  /** A gradient check at a checkpoint: the run and step of its weights. */
  from: optional(obj({ runId: str, step: num })),
  /** The folder of the config file the run came from (relative paths in `config` resolve there). */
  configDir: optional(str),
});
export type RunStarted = Infer<typeof runStarted>;

/** Forward residuals of one training step's forward pass (all its solver steps in one message); null where NaN/Inf. */
const forwardTrace = message('trace/forward', {
  step: num,
  abs: arr(nullable(num)),
  rel: arr(nullable(num)),
  converged: bool,
  diverged: bool,
});
export type ForwardTrace = Infer<typeof forwardTrace>;

const backwardTrace = message('trace/backward', {
  step: num,
  method: str,
  /** Adjoint residual per iteration (null where the method has none). */
  residual: arr(nullable(num)),
  /** ||z_k|| / ||g|| per iteration (BPTT/TBPTT). */
  termNorm: arr(nullable(num)),
});
export type BackwardTraceMsg = Infer<typeof backwardTrace>;

const metrics = message('metrics', {
  step: num,
  elapsedMs: num,
  /** e.g. loss, grad_norm, val_acc, test_acc, lr, meta_loss, ... */
  values: record(float),
  /** 'train' per step, 'eval' for evaluations. */
  kind: oneOf('train', 'eval'),
});
export type Metrics = Infer<typeof metrics>;

const diagnostics = message('diagnostics', {
  step: num,
  /** ρ(J); null when it could not be estimated (NaN/Inf). */
  rho: nullable(num),
  verdict: verdictInfo,
});
export type Diagnostics = Infer<typeof diagnostics>;

const memory = message('memory', {
  step: num,
  peakBytes: num,
  liveBytes: num,
  rssBytes: num,
  numTensors: num,
});
export type MemoryMsg = Infer<typeof memory>;

/**
 * A gradient probe during training: at this step's weights and batch, the training method's
 * gradient against `exact` (and BPTT where probed), ρ(J) and the probe's own cost.
 */
const probe = message('probe', {
  step: num,
  method: str,
  K: nullable(num),
  relErrExact: float,
  cosExact: float,
  /** null where BPTT was not computed. */
  relErrBptt: nullable(num),
  cosBptt: nullable(num),
  rho: nullable(num),
  /** exact's final adjoint residual (null where NaN). */
  exactResidual: nullable(num),
  exactConverged: bool,
  ms: num,
});
export type ProbeMsg = Infer<typeof probe>;

/** A checkpoint written: `file` relative to the run folder, after `step` optimisation steps. */
const checkpointFields = {
  step: num,
  file: str,
  bytes: num,
  reason: oneOf('periodic', 'final', 'stopped'),
};
const checkpoint = message('checkpoint', checkpointFields);
export type CheckpointMsg = Infer<typeof checkpoint>;

/**
 * A checkpoint write begins (its `checkpoint` event follows when the file is in place). The host
 * holds off its kill while one is under way after a Stop, so a stopped run's checkpoint (77 MiB on
 * Hopfield, seconds on a busy disk) is not lost; a write killed anyway leaves only a `.tmp` file.
 */
const checkpointWriting = message('checkpoint/writing', checkpointFields);
export type CheckpointWritingMsg = Infer<typeof checkpointWriting>;

const log = message('log', {
  level: oneOf('info', 'warn', 'error'),
  text: str,
});
export type LogMsg = Infer<typeof log>;

const runFinished = message('run/finished', {
  status: oneOf('completed', 'cancelled'),
  elapsedMs: num,
  summary: record(anyOf(float, str, bool)),
});
export type RunFinished = Infer<typeof runFinished>;

const failureKind = oneOf('error', 'diverged', 'crashed', 'killed', 'out-of-memory', 'no-start', 'bad-config', 'bad-data');
export type FailureKind = Infer<typeof failureKind>;

const runFailed = message('run/failed', {
  kind: failureKind,
  reason: str,
  elapsedMs: num,
});
export type RunFailed = Infer<typeof runFailed>;

/** One method at one K of a gradient check (run/gradcheck.ts GradcheckRow); NaN/Inf errors and cosines read back as NaN. */
const gradcheckRow = obj({
  method: str,
  K: nullable(num),
  relErrExact: float,
  cosExact: float,
  relErrBptt: float,
  cosBptt: float,
  timeMs: float,
  peakBytes: float,
  loss: float,
  residual: nullable(num),
  residualTrace: arr(nullable(num)),
  vjps: num,
  jvps: num,
});

const gradcheckRowMsg = message('gradcheck/row', { row: gradcheckRow });
export type GradcheckRowMsg = Infer<typeof gradcheckRowMsg>;

/** The whole gradient-check report (run/gradcheck.ts GradcheckReport), the same one `rbp gradcheck --json` prints. */
const gradcheckResult = message('gradcheck/result', {
  report: obj({
    experiment: str,
    T: num,
    Ks: arr(num),
    methods: arr(str),
    rows: arr(gradcheckRow),
    forward: obj({ stepsToTol: nullable(num), tol: num, finalRel: float, steps: num }),
    rho: float,
    verdict: verdictInfo,
    exactConverged: bool,
    exactNote: optional(str),
    backend: str,
    /** On webgpu: the adapter, in words ("SwiftShader driver … (google swiftshader, software adapter)"). */
    adapter: optional(str),
    /** At a checkpoint's weights: the run and step (absent: the config's initial weights). */
    from: optional(obj({ runId: str, step: num })),
  }),
});
export type GradcheckResultMsg = Infer<typeof gradcheckResult>;

const parseEvent = messages('event', [runStarted, forwardTrace, backwardTrace, metrics, diagnostics, memory, probe, checkpoint, checkpointWriting, log, runFinished, runFailed, gradcheckRowMsg, gradcheckResult]);
export type WorkerEvent = ReturnType<typeof parseEvent>;

const stamp = obj({ runId: str, seq: num, t: num });
/** Events as they travel or are recorded: stamped with the run they belong to and a sequence number. */
export type Envelope<E = WorkerEvent> = E & Infer<typeof stamp>;

/** Validate an event envelope coming from a worker or read from events.jsonl. */
export function parseWorkerEvent(v: unknown): Envelope {
  const e = parseEvent(v);
  check(stamp, e, e.type);
  return e as Envelope;
}

// ---- worker → host, not recorded ----

/** The worker's first message: it is alive and listening (sent before any run). */
const workerReady = message('worker/ready', { pid: num });
export type WorkerReady = Infer<typeof workerReady>;
/**
 * The worker's answer to run/cancel, at once (its run computes on another thread): the run was told
 * to stop; `saving`: it has finished steps no checkpoint holds, and writes one before it ends.
 */
const workerStopping = message('worker/stopping', { pid: num, saving: bool });
export type WorkerStopping = Infer<typeof workerStopping>;

const parseControl = messages('worker message', [workerReady, workerStopping]);

/** Validate what a worker sends over IPC: its ready or stopping message, or an event envelope. */
export function parseWorkerMessage(v: unknown): Envelope | WorkerReady | WorkerStopping {
  const type = typeof v === 'object' && v !== null ? (v as { type?: unknown }).type : undefined;
  return type === 'worker/ready' || type === 'worker/stopping' ? parseControl(v) : parseWorkerEvent(v);
}
