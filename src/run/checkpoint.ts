/**
 * Checkpoints: a training session's full state (`experiments/state.ts`) in the run folder, as
 * `<run>/checkpoints/step-<N>.rbpck` (N = optimisation steps done, zero-padded to 6 digits). The
 * newest is the one with the largest N: no separate "latest" file.
 *
 * Format (version 1), all integers little-endian; nothing in it executes on load:
 *
 *     bytes 0..7    magic "RBPCK\r\n\x1a" (a text-mode copy or a truncated head shows here)
 *     bytes 8..11   u32 format version (1)
 *     bytes 12..15  u32 H: length of the JSON header in bytes (a multiple of 4)
 *     bytes 16..19  u32 CRC-32 of the header bytes
 *     bytes 20..    the header: UTF-8 JSON, padded with spaces to H bytes
 *     then          the data: the tensors' float32 values, one after another, `dataBytes` bytes
 *
 * The header holds: format, version, experiment, runner, configDigest (of the seed, dataset and
 * model sections: what determines the model and its data), method, K, step, stepLabel, createdAt,
 * backend; tensors [{ name, shape, dtype: 'float32', offset, length }] (offset in bytes from the
 * start of the data, length in values); optimizer { kind, scalars (Adam's t), buffers (names) };
 * extra (the session's own state: random generator states, shuffle order, best-so-far numbers);
 * dataBytes and dataCrc32 (CRC-32 of the data).
 *
 * A checkpoint is written to `<name>.tmp` and renamed over its name, so a run killed mid-write
 * leaves the previous checkpoints whole (and at most a `.tmp` that nothing reads).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import type { RbpConfig } from '../config/load';
import type { ExperimentSession } from '../experiments/types';
import { RunError } from '../experiments/types';
import { captureState, restoreState, StateMismatch, type TrainingState } from '../experiments/state';
import { CHECKPOINT_DIR, checkpointName, listCheckpoints } from './checkpointFiles';

export { CHECKPOINT_DIR, checkpointName, listCheckpoints };

export const CHECKPOINT_VERSION = 1;
const MAGIC = Buffer.from('RBPCK\r\n\x1a', 'latin1');
const PREFIX = 20;
const LITTLE_ENDIAN = os.endianness() === 'LE';

export interface CheckpointHeader {
  format: 'rbpck';
  version: number;
  experiment: string;
  runner: string;
  configDigest: string;
  method: string;
  K: number | null;
  step: number;
  stepLabel: string;
  createdAt: string;
  backend: string;
  tensors: { name: string; shape: number[]; dtype: 'float32'; offset: number; length: number }[];
  optimizer: TrainingState['optimizer'];
  extra: Record<string, unknown>;
  dataBytes: number;
  dataCrc32: number;
}

export type CheckpointMeta = Pick<CheckpointHeader, 'experiment' | 'runner' | 'configDigest' | 'method' | 'K' | 'stepLabel' | 'backend'>;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib and PNG). */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A digest of what determines the model and its data (seed, dataset and model sections); the train section may differ between a run and its resumption. */
export function configDigest(config: RbpConfig): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  const model = { ...(config.model as Record<string, unknown>) };
  // The gradient method and K change how the model is trained, not what it is.
  delete model.grad_method;
  delete model.truncate_iter;
  return createHash('sha256')
    .update(JSON.stringify(canon({ runner: config.runner, seed: config.seed, dataset: config.dataset, model })))
    .digest('hex')
    .slice(0, 16);
}

export function encodeCheckpoint(meta: CheckpointMeta, st: TrainingState, createdAt = new Date()): Buffer {
  let offset = 0;
  const tensors = st.tensors.map((t) => {
    const e = { name: t.name, shape: t.shape, dtype: 'float32' as const, offset, length: t.data.length };
    offset += 4 * t.data.length;
    return e;
  });
  const data = Buffer.alloc(offset);
  st.tensors.forEach((t, i) => {
    if (LITTLE_ENDIAN) Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(data, tensors[i].offset);
    else for (let j = 0; j < t.data.length; j++) data.writeFloatLE(t.data[j], tensors[i].offset + 4 * j);
  });
  const header: CheckpointHeader = {
    format: 'rbpck',
    version: CHECKPOINT_VERSION,
    ...meta,
    step: st.step,
    createdAt: createdAt.toISOString(),
    tensors,
    optimizer: st.optimizer,
    extra: st.extra,
    dataBytes: data.length,
    dataCrc32: crc32(data),
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length % 4) json = Buffer.concat([json, Buffer.alloc(4 - (json.length % 4), 0x20)]);
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CHECKPOINT_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  prefix.writeUInt32LE(crc32(json), 16);
  return Buffer.concat([prefix, json, data]);
}

/** A checkpoint that cannot be used: `file: what is wrong`, exit code 2 in the CLI. */
export class CheckpointError extends RunError {
  constructor(
    readonly file: string,
    what: string,
  ) {
    super('bad-data', `checkpoint ${file}: ${what}`);
  }
}

export function decodeCheckpoint(buf: Buffer, file: string): { header: CheckpointHeader; state: TrainingState } {
  const bad = (what: string) => new CheckpointError(file, what);
  if (!buf.subarray(0, 8).equals(MAGIC.subarray(0, Math.min(8, buf.length)))) throw bad('not an RBP Lab checkpoint (wrong magic bytes)');
  if (buf.length < PREFIX) throw bad(`truncated: ${buf.length} bytes, not even the ${PREFIX}-byte prefix`);
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) throw bad(`format version ${version}; this RBP Lab reads version ${CHECKPOINT_VERSION}`);
  const H = buf.readUInt32LE(12);
  if (PREFIX + H > buf.length) throw bad(`truncated: the header needs ${H} bytes, the file has ${buf.length - PREFIX} after the prefix`);
  const json = buf.subarray(PREFIX, PREFIX + H);
  if (crc32(json) !== buf.readUInt32LE(16)) throw bad('corrupted: the header does not match its checksum');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(json.toString('utf8')) as CheckpointHeader;
  } catch (err) {
    throw bad(`corrupted header: ${(err as Error).message}`);
  }
  if (header.format !== 'rbpck' || !Array.isArray(header.tensors) || !Number.isInteger(header.step) || !Number.isInteger(header.dataBytes)) throw bad('its header lacks the format, tensors, step or data size');
  const data = buf.subarray(PREFIX + H);
  if (data.length < header.dataBytes) throw bad(`truncated: ${data.length} of its ${header.dataBytes} data bytes`);
  if (data.length > header.dataBytes) throw bad(`${data.length - header.dataBytes} bytes after the data its header describes`);
  if (crc32(data) !== header.dataCrc32) throw bad('corrupted: the data does not match its checksum');
  const tensors = header.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype !== 'float32' || n !== t.length || t.offset < 0 || t.offset + 4 * n > data.length) throw bad(`tensor '${t.name}' does not fit the data (dtype ${t.dtype}, shape [${t.shape.join(', ')}], offset ${t.offset})`);
    const out = new Float32Array(n);
    if (LITTLE_ENDIAN) Buffer.from(out.buffer).set(data.subarray(t.offset, t.offset + 4 * n));
    else for (let j = 0; j < n; j++) out[j] = data.readFloatLE(t.offset + 4 * j);
    return { name: t.name, shape: t.shape, data: out };
  });
  return { header, state: { step: header.step, tensors, optimizer: header.optimizer, extra: header.extra ?? {} } };
}


/** The chunks a checkpoint is written in (a write is a loop of these, not one call that blocks for seconds). */
const WRITE_CHUNK = 4 << 20;

/**
 * Write the session's state after `step` steps into `<runDir>/checkpoints/`: to `<name>.tmp`, in
 * chunks, then renamed over `<name>`. `onWriting(file, bytes)` is called once the state is encoded,
 * before the first byte is written (the worker announces the write to the host with it).
 * `RBP_TEST_CHECKPOINT_CHUNK_DELAY_MS` (tests only) sleeps after each chunk: a slow disk on demand.
 */
export function writeCheckpoint(runDir: string, meta: CheckpointMeta, session: ExperimentSession, step: number, onWriting?: (file: string, bytes: number) => void): { file: string; bytes: number } {
  const buf = encodeCheckpoint(meta, captureState(session, step));
  const dir = path.join(runDir, CHECKPOINT_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const rel = path.join(CHECKPOINT_DIR, checkpointName(step)).split(path.sep).join('/');
  const full = path.join(runDir, rel);
  onWriting?.(rel, buf.length);
  const delay = Number(process.env.RBP_TEST_CHECKPOINT_CHUNK_DELAY_MS) || 0;
  const fd = fs.openSync(full + '.tmp', 'w');
  try {
    for (let at = 0; at < buf.length; at += WRITE_CHUNK) {
      const end = Math.min(buf.length, at + WRITE_CHUNK);
      for (let w = at; w < end; ) w += fs.writeSync(fd, buf, w, end - w);
      if (delay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(full + '.tmp', full);
  return { file: rel, bytes: buf.length };
}

/**
 * `RUN_DIR`, `RUN_DIR@STEP` or a `.rbpck` file → the checkpoint file and its run folder. No step:
 * the run's newest checkpoint. Errors name the folder or file and what is missing.
 */
export function resolveCheckpoint(ref: string): { file: string; runDir: string; step: number } {
  const m = /^(.*)@(\d+)$/.exec(ref);
  const target = m ? m[1] : ref;
  if (!m && /\.rbpck$/.test(target)) {
    if (!fs.existsSync(target)) throw new CheckpointError(target, 'no such file');
    const step = /step-(\d+)\.rbpck$/.exec(target);
    return { file: target, runDir: path.dirname(path.dirname(path.resolve(target))), step: step ? Number(step[1]) : NaN };
  }
  if (!fs.existsSync(target)) throw new RunError('bad-data', `no run folder ${target}`);
  const all = listCheckpoints(target);
  if (!all.length) throw new RunError('bad-data', `run ${target} has no checkpoints (no ${path.join(target, CHECKPOINT_DIR, 'step-*.rbpck')})`);
  if (!m) return { ...all[all.length - 1], runDir: target };
  const step = Number(m[2]);
  const hit = all.find((c) => c.step === step);
  if (!hit) throw new RunError('bad-data', `run ${target} has no checkpoint at step ${step} (it has ${all.map((c) => c.step).join(', ')})`);
  return { ...hit, runDir: target };
}

export function readCheckpoint(file: string): { header: CheckpointHeader; state: TrainingState } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new CheckpointError(file, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return decodeCheckpoint(buf, file);
}

/** The run a checkpoint belongs to, as run.json names it (else its folder's name). */
export function runIdOf(runDir: string): string {
  try {
    const id = (JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { runId?: unknown }).runId;
    if (typeof id === 'string' && id) return id;
  } catch {
    /* no run.json: the folder's name */
  }
  return path.basename(path.resolve(runDir));
}

/**
 * Load a checkpoint into a session built for `runner`: refuses one of another experiment or model
 * shape (naming the file and what differs). Returns the header and notes (a config digest that
 * differs: the same shapes, other data or settings).
 */
export function loadCheckpoint(file: string, session: ExperimentSession, runner: string, config: RbpConfig): { header: CheckpointHeader; notes: string[] } {
  const { header, state } = readCheckpoint(file);
  if (header.runner !== runner) throw new CheckpointError(file, `it is from a ${header.runner} run (${header.experiment}); this run is ${runner}`);
  try {
    restoreState(session, state);
  } catch (err) {
    if (err instanceof StateMismatch || err instanceof Error) throw new CheckpointError(file, `it does not fit this model: ${err.message}`);
    throw err;
  }
  const notes: string[] = [];
  const digest = configDigest(config);
  if (digest !== header.configDigest) notes.push(`checkpoint ${file} was written with another seed, dataset or model section (digest ${header.configDigest}, this config ${digest}): the same shapes, so it loads, but the model or data may differ`);
  return { header, notes };
}

/**
 * Resolve `ref` (RUN_DIR, RUN_DIR@STEP or a .rbpck file) and load it into the session: the one path
 * of `--resume` and `gradcheck --from`. Returns the file, the run and step it came from, the method
 * it was trained with as a label, and loadCheckpoint's notes.
 */
export function restoreFrom(ref: string, session: ExperimentSession, runner: string, config: RbpConfig): { file: string; from: { runId: string; step: number }; trainedWith: string; notes: string[] } {
  const c = resolveCheckpoint(ref);
  const { header, notes } = loadCheckpoint(c.file, session, runner, config);
  return { file: c.file, from: { runId: runIdOf(c.runDir), step: header.step }, trainedWith: `${header.method}${header.K !== null ? ` K=${header.K}` : ''}`, notes };
}
