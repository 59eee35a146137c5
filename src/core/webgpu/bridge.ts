/**
 * The main thread's side of the GPU thread (`./server`): a WebGPU device made of stand-ins that
 * record every call as an operation and post them in batches, with one synchronous call,
 * `readSync`, that blocks in `Atomics.wait` until the GPU thread has copied a buffer's bytes.
 * It implements what @tensorflow/tfjs-backend-webgpu uses of WebGPU (buffers, compute pipelines,
 * bind groups, compute passes, buffer copies, queue writes) and refuses the rest by name.
 */
import { Worker } from 'worker_threads';
import { gpuServerMain } from './server';

/** What Dawn says about an adapter. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

type Op = [string, ...unknown[]];

/** WebGPU's usage flags (the spec's constants), for the main thread, which never loads Dawn. */
export const GPU_CONSTANTS = {
  GPUBufferUsage: { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, INDEX: 16, VERTEX: 32, UNIFORM: 64, STORAGE: 128, INDIRECT: 256, QUERY_RESOLVE: 512 },
  GPUMapMode: { READ: 1, WRITE: 2 },
  GPUTextureUsage: { COPY_SRC: 1, COPY_DST: 2, TEXTURE_BINDING: 4, STORAGE_BINDING: 8, RENDER_ATTACHMENT: 16 },
  GPUShaderStage: { VERTEX: 1, FRAGMENT: 2, COMPUTE: 4 },
};

const unsupported = (what: string) => new Error(`WebGPU bridge: ${what} is not supported (RBP Lab implements what tfjs's webgpu backend uses for compute)`);

/** How long a read waits for the GPU thread (RBP_WEBGPU_TIMEOUT_S, default 600 s). */
function readTimeoutMs(): number {
  const s = Number(process.env.RBP_WEBGPU_TIMEOUT_S);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 600_000;
}

export class WebGpuBridge {
  private readonly worker: Worker;
  private ops: Op[] = [];
  private transfers: ArrayBuffer[] = [];
  private nextId = 1;
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: string | undefined;

  constructor(dawnPath: string, flags: string[] = []) {
    this.worker = new Worker(`(${gpuServerMain.toString()})()`, { eval: true, workerData: { dawnPath, flags } });
    this.worker.on('message', (m: { rid: number; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.rid);
      if (!p) return;
      this.pending.delete(m.rid);
      if (!this.pending.size) this.worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    const end = (why: string) => {
      this.exited = why;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
    };
    this.worker.on('error', (err) => end(`the GPU thread failed: ${err.message}`));
    this.worker.on('exit', (code) => end(`the GPU thread exited (code ${code})`));
    // After the listeners (a 'message' listener refs the channel): the process may end while the
    // GPU thread idles; a pending request refs it until its answer comes.
    this.worker.unref();
    process.on('exit', this.onExit);
  }

  private request<T>(msg: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const rid = this.nextRid++;
    return new Promise<T>((resolve, reject) => {
      if (!this.pending.size) this.worker.ref();
      this.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, rid });
    });
  }

  /** The adapters Dawn offers (high-performance, low-power and fallback requests, without duplicates). */
  probe(): Promise<AdapterInfo[]> {
    return this.request<AdapterInfo[]>({ t: 'probe' });
  }

  /** A device on adapter `index` of the last probe. */
  async open(index: number): Promise<ProxyDevice> {
    const r = await this.request<{ limits: Record<string, number>; features: string[] }>({ t: 'open', adapter: index });
    return new ProxyDevice(this, r.limits, new Set(r.features));
  }

  /** End the GPU thread once it has run what was sent (terminating it inside a Dawn call aborts the process). */
  close(): Promise<number> {
    process.removeListener('exit', this.onExit);
    if (!this.exited) this.drainSync(30_000);
    return this.worker.terminate();
  }

  /** At process exit: let the GPU thread finish its operations before Node terminates it. */
  private readonly onExit = () => {
    try {
      if (!this.exited) this.drainSync(30_000);
    } catch {
      /* exiting anyway */
    }
  };

  /** Block until the GPU thread has run every operation sent so far. */
  drainSync(timeoutMs = readTimeoutMs()): void {
    this.roundTrip(undefined, 0, timeoutMs);
  }

  id(): number {
    return this.nextId++;
  }

  push(op: Op, transfer?: ArrayBuffer): void {
    this.ops.push(op);
    if (transfer) this.transfers.push(transfer);
  }

  flush(): void {
    if (!this.ops.length) return;
    this.worker.postMessage({ t: 'ops', ops: this.ops }, this.transfers);
    this.ops = [];
    this.transfers = [];
  }

  /** The first `size` bytes of `buffer`, after every operation recorded so far has run. */
  readSync(buffer: ProxyBuffer, size = buffer.size): ArrayBuffer {
    return this.roundTrip(buffer.id, size, readTimeoutMs());
  }

  /** Post the pending operations (and a read of `size` bytes of buffer `id`), then wait for the answer. */
  private roundTrip(id: number | undefined, size: number, timeoutMs: number): ArrayBuffer {
    if (this.exited) throw new Error(this.exited);
    const sab = new SharedArrayBuffer(16 + Math.max(size, 4096));
    const head = new Int32Array(sab, 0, 4);
    this.worker.postMessage({ t: 'read', ops: this.ops, id, size, sab }, this.transfers);
    this.ops = [];
    this.transfers = [];
    if (Atomics.wait(head, 0, 0, timeoutMs) === 'timed-out') throw new Error(`WebGPU: the GPU thread did not answer within ${timeoutMs / 1000} s (RBP_WEBGPU_TIMEOUT_S)`);
    if (head[0] !== 1) throw new Error(`WebGPU: ${new TextDecoder().decode(new Uint8Array(sab, 16, head[2]))}`);
    return new Uint8Array(sab, 16, size).slice().buffer;
  }
}

/** Stand-in for GPUBuffer (also installed as the global `GPUBuffer`, which tfjs tests with instanceof). */
export class ProxyBuffer {
  mapState: 'unmapped' | 'mapped' = 'unmapped';
  label = '';
  private local: ArrayBuffer | undefined;
  private writeOnUnmap = false;

  constructor(
    private readonly bridge: WebGpuBridge,
    readonly id: number,
    readonly size: number,
    readonly usage: number,
    mappedAtCreation: boolean,
  ) {
    if (mappedAtCreation) {
      this.mapState = 'mapped';
      this.writeOnUnmap = true;
    }
  }

  getMappedRange(offset = 0, size?: number): ArrayBuffer {
    if (this.mapState !== 'mapped') throw new Error('WebGPU bridge: getMappedRange on a buffer that is not mapped');
    if (offset !== 0 || (size !== undefined && size !== this.size)) throw unsupported('a partial mapped range');
    this.local ??= new ArrayBuffer(this.size);
    return this.local;
  }

  /** Reading maps synchronously (the bytes come with the mapping); writing maps only at creation. */
  mapAsync(mode: number): Promise<void> {
    if (mode !== GPU_CONSTANTS.GPUMapMode.READ) return Promise.reject(unsupported('mapAsync for writing'));
    try {
      this.local = this.bridge.readSync(this);
    } catch (err) {
      return Promise.reject(err);
    }
    this.mapState = 'mapped';
    return Promise.resolve();
  }

  unmap(): void {
    if (this.mapState !== 'mapped') return;
    const data = this.writeOnUnmap ? this.local : undefined;
    this.bridge.push(['unmap', this.id, data ?? null], data);
    this.local = undefined;
    this.writeOnUnmap = false;
    this.mapState = 'unmapped';
  }

  destroy(): void {
    this.bridge.push(['destroy', this.id]);
  }
}

/** Stand-in for GPUTexture: tfjs tests `instanceof GPUTexture`; compute never makes one. */
export class ProxyTexture {}

interface Handle {
  id: number;
}

class ProxyPipeline {
  private readonly layouts = new Map<number, Handle>();
  constructor(
    private readonly bridge: WebGpuBridge,
    readonly id: number,
  ) {}

  getBindGroupLayout(index: number): Handle {
    let l = this.layouts.get(index);
    if (!l) {
      l = { id: this.bridge.id() };
      this.bridge.push(['layout', l.id, this.id, index]);
      this.layouts.set(index, l);
    }
    return l;
  }
}

class ProxyPass {
  constructor(
    private readonly bridge: WebGpuBridge,
    readonly id: number,
  ) {}
  setPipeline(p: Handle): void {
    this.bridge.push(['setPipeline', this.id, p.id]);
  }
  setBindGroup(index: number, g: Handle): void {
    this.bridge.push(['setBindGroup', this.id, index, g.id]);
  }
  dispatchWorkgroups(x: number, y = 1, z = 1): void {
    this.bridge.push(['dispatch', this.id, x, y, z]);
  }
  end(): void {
    this.bridge.push(['end', this.id]);
  }
}

class ProxyEncoder {
  constructor(
    private readonly bridge: WebGpuBridge,
    readonly id: number,
  ) {}
  beginComputePass(desc?: { timestampWrites?: unknown }): ProxyPass {
    if (desc?.timestampWrites) throw unsupported('timestamp queries');
    const p = new ProxyPass(this.bridge, this.bridge.id());
    this.bridge.push(['pass', p.id, this.id]);
    return p;
  }
  copyBufferToBuffer(src: ProxyBuffer, srcOffset: number, dst: ProxyBuffer, dstOffset: number, size: number): void {
    this.bridge.push(['copy', this.id, src.id, srcOffset, dst.id, dstOffset, size]);
  }
  finish(): Handle {
    const cb = { id: this.bridge.id() };
    this.bridge.push(['finish', this.id, cb.id]);
    return cb;
  }
  copyBufferToTexture(): never {
    throw unsupported('copyBufferToTexture');
  }
  resolveQuerySet(): never {
    throw unsupported('query sets');
  }
}

/** Stand-in for GPUDevice, as far as tfjs's webgpu backend uses it. */
export class ProxyDevice {
  readonly queue: { submit(cbs: Handle[]): void; writeBuffer(b: ProxyBuffer, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number): void };
  readonly label = 'rbp-lab';

  constructor(
    readonly bridge: WebGpuBridge,
    readonly limits: Record<string, number>,
    readonly features: Set<string>,
  ) {
    this.queue = {
      submit: (cbs) => {
        bridge.push(['submit', cbs.map((c) => c.id)]);
        bridge.flush();
      },
      writeBuffer: (b, offset, data, dataOffset = 0, size) => {
        // ArrayBuffer offsets and sizes are in bytes, typed arrays' in elements (the spec's rule).
        const unit = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
        const base = ArrayBuffer.isView(data) ? data.byteOffset : 0;
        const buf = ArrayBuffer.isView(data) ? data.buffer : data;
        const total = ArrayBuffer.isView(data) ? data.byteLength : data.byteLength;
        const start = base + dataOffset * unit;
        const bytes = size === undefined ? total - dataOffset * unit : size * unit;
        const copy = buf.slice(start, start + bytes) as ArrayBuffer;
        bridge.push(['write', b.id, offset, copy], copy);
      },
    };
  }

  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): ProxyBuffer {
    const b = new ProxyBuffer(this.bridge, this.bridge.id(), desc.size, desc.usage, Boolean(desc.mappedAtCreation));
    this.bridge.push(['buffer', b.id, desc.size, desc.usage, Boolean(desc.mappedAtCreation)]);
    return b;
  }

  createShaderModule(desc: { code: string; label?: string }): Handle {
    const m = { id: this.bridge.id() };
    this.bridge.push(['shader', m.id, desc.code, desc.label ?? '']);
    return m;
  }

  createComputePipeline(desc: { compute: { module: Handle; entryPoint?: string }; label?: string }): ProxyPipeline {
    const p = new ProxyPipeline(this.bridge, this.bridge.id());
    this.bridge.push(['pipeline', p.id, desc.compute.module.id, desc.compute.entryPoint ?? '_start', desc.label ?? '']);
    return p;
  }

  createComputePipelineAsync(desc: { compute: { module: Handle; entryPoint?: string }; label?: string }): Promise<ProxyPipeline> {
    return Promise.resolve(this.createComputePipeline(desc));
  }

  createBindGroup(desc: { layout: Handle; entries: { binding: number; resource: { buffer: ProxyBuffer; offset?: number; size?: number } }[] }): Handle {
    const g = { id: this.bridge.id() };
    const entries = desc.entries.map((e) => {
      if (!(e.resource?.buffer instanceof ProxyBuffer)) throw unsupported('a bind group entry that is not a buffer');
      return [e.binding, e.resource.buffer.id, e.resource.offset ?? 0, e.resource.size];
    });
    this.bridge.push(['bindGroup', g.id, desc.layout.id, entries]);
    return g;
  }

  createCommandEncoder(): ProxyEncoder {
    const e = new ProxyEncoder(this.bridge, this.bridge.id());
    this.bridge.push(['encoder', e.id]);
    return e;
  }

  createTexture(): never {
    throw unsupported('textures');
  }

  createQuerySet(): never {
    throw unsupported('query sets');
  }

  destroy(): void {
    this.bridge.flush();
  }
}
