/**
 * The GPU thread. WebGPU has no synchronous read-back (a buffer is mapped by a promise that only
 * the event loop settles), but tfjs and this whole library read numbers synchronously
 * (`dataSync`: residuals, losses, norms). So Dawn lives in a worker thread whose event loop stays
 * free: the main thread records WebGPU calls as a list of operations (`./bridge`), posts them here
 * in batches, and for a read posts the request with a SharedArrayBuffer and blocks in
 * `Atomics.wait` until this thread has run the operations, mapped the buffer and copied its bytes.
 *
 * Self-contained: the thread is started from this function's source text (`toString()`), so its
 * body may use nothing from outside itself.
 */
export function gpuServerMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData } = require('worker_threads') as typeof import('worker_threads');
  /* eslint-enable @typescript-eslint/no-require-imports */
  if (!parentPort) return;
  const port = parentPort;

  interface DawnBuffer {
    usage: number;
    mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
    getMappedRange(offset?: number, size?: number): ArrayBuffer;
    unmap(): void;
    destroy(): void;
  }
  interface DawnAdapter {
    info: Record<string, unknown>;
    limits: Record<string, number>;
    requestDevice(desc: unknown): Promise<DawnDevice>;
  }
  interface DawnDevice {
    limits: Record<string, number>;
    features: Set<string>;
    queue: { submit(cbs: unknown[]): void; writeBuffer(b: unknown, offset: number, data: ArrayBuffer): void };
    lost: Promise<{ message: string }>;
    addEventListener(type: string, fn: (e: { error: { message: string } }) => void): void;
    createBuffer(desc: unknown): DawnBuffer;
    createShaderModule(desc: unknown): unknown;
    createComputePipeline(desc: unknown): { getBindGroupLayout(i: number): unknown };
    createBindGroup(desc: unknown): unknown;
    createCommandEncoder(): DawnEncoder;
  }
  interface DawnEncoder {
    beginComputePass(): DawnPass;
    copyBufferToBuffer(a: unknown, ao: number, b: unknown, bo: number, n: number): void;
    finish(): unknown;
  }
  interface DawnPass {
    setPipeline(p: unknown): void;
    setBindGroup(i: number, g: unknown): void;
    dispatchWorkgroups(x: number, y: number, z: number): void;
    end(): void;
  }
  type Op = [string, ...unknown[]];
  type Request = { t: 'probe' | 'open' | 'ops' | 'read'; rid?: number; adapter?: number; ops?: Op[]; id?: number; size?: number; sab?: SharedArrayBuffer };

  const MAP_READ = 1;
  const COPY_DST = 8;
  const LIMITS = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'];
  const ALL_LIMITS = [
    ...LIMITS,
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxStorageBuffersPerShaderStage',
    'maxUniformBuffersPerShaderStage',
    'maxUniformBufferBindingSize',
    'maxBindGroups',
    'maxBindingsPerBindGroup',
    'minStorageBufferOffsetAlignment',
    'minUniformBufferOffsetAlignment',
  ];

  let fatal: string | undefined;
  let gpu: { requestAdapter(o: unknown): Promise<DawnAdapter | null> } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dawn = require(String(workerData.dawnPath)) as { create(flags: string[]): typeof gpu };
    gpu = dawn.create((workerData.flags as string[] | undefined) ?? []);
  } catch (err) {
    fatal = `dawn.node did not load: ${String((err as Error)?.message ?? err).split('\n')[0]}`;
  }

  const adapters: { adapter: DawnAdapter; key: string }[] = [];
  let device: DawnDevice | undefined;
  const objects = new Map<number, unknown>();
  /** Per encoder: its passes and the bind groups set in them, dropped when it is finished. */
  const encoderParts = new Map<number, number[]>();
  const passEncoder = new Map<number, number>();
  const errors: string[] = [];
  const note = (m: string) => {
    if (errors.length < 20) errors.push(m);
  };
  let staging: { buffer: DawnBuffer; size: number } | undefined;

  const get = <T>(id: unknown): T => {
    const o = objects.get(id as number);
    if (o === undefined) throw new Error(`unknown GPU object ${String(id)}`);
    return o as T;
  };

  async function probe(): Promise<Record<string, unknown>[]> {
    if (!gpu) throw new Error(fatal);
    const out: Record<string, unknown>[] = [];
    for (const opts of [{ powerPreference: 'high-performance' }, { powerPreference: 'low-power' }, { forceFallbackAdapter: true }]) {
      let a: DawnAdapter | null = null;
      try {
        a = await gpu.requestAdapter(opts);
      } catch {
        a = null;
      }
      if (!a) continue;
      const i = a.info;
      const info = { vendor: String(i.vendor ?? ''), architecture: String(i.architecture ?? ''), device: String(i.device ?? ''), description: String(i.description ?? ''), isFallbackAdapter: Boolean(i.isFallbackAdapter) };
      const key = JSON.stringify(info);
      if (adapters.some((x) => x.key === key)) continue;
      adapters.push({ adapter: a, key });
      out.push(info);
    }
    return out;
  }

  async function open(index: number): Promise<Record<string, unknown>> {
    const entry = adapters[index];
    if (!entry) throw new Error(`no adapter ${index} (probe first)`);
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMITS) if (typeof entry.adapter.limits[k] === 'number') requiredLimits[k] = entry.adapter.limits[k];
    device = await entry.adapter.requestDevice({ requiredLimits });
    device.addEventListener('uncapturederror', (e) => note(e.error.message));
    void device.lost.then((info) => note(`the GPU device was lost: ${info.message}`));
    const limits: Record<string, number> = {};
    for (const k of ALL_LIMITS) if (typeof device.limits[k] === 'number') limits[k] = device.limits[k];
    return { limits, features: [...device.features] };
  }

  function exec(op: Op): void {
    const d = device!;
    const [code, a, b, c, e, f, g] = op;
    switch (code) {
      case 'buffer':
        objects.set(a as number, d.createBuffer({ size: b, usage: c, mappedAtCreation: e }));
        break;
      case 'unmap': {
        const buf = get<DawnBuffer>(a);
        if (b) new Uint8Array(buf.getMappedRange()).set(new Uint8Array(b as ArrayBuffer));
        buf.unmap();
        break;
      }
      case 'destroy':
        get<DawnBuffer>(a).destroy();
        objects.delete(a as number);
        break;
      case 'write':
        d.queue.writeBuffer(get(a), b as number, c as ArrayBuffer);
        break;
      case 'shader':
        objects.set(a as number, d.createShaderModule({ code: b, label: c }));
        break;
      case 'pipeline':
        objects.set(a as number, d.createComputePipeline({ layout: 'auto', compute: { module: get(b), entryPoint: c }, label: e }));
        break;
      case 'layout':
        objects.set(a as number, get<{ getBindGroupLayout(i: number): unknown }>(b).getBindGroupLayout(c as number));
        break;
      case 'bindGroup': {
        const entries = (c as [number, number, number, number | undefined][]).map(([binding, id, offset, size]) => ({ binding, resource: { buffer: get(id), offset, size } }));
        objects.set(a as number, d.createBindGroup({ layout: get(b), entries }));
        break;
      }
      case 'encoder':
        objects.set(a as number, d.createCommandEncoder());
        encoderParts.set(a as number, []);
        break;
      case 'pass':
        objects.set(a as number, get<DawnEncoder>(b).beginComputePass());
        passEncoder.set(a as number, b as number);
        encoderParts.get(b as number)?.push(a as number);
        break;
      case 'setPipeline':
        get<DawnPass>(a).setPipeline(get(b));
        break;
      case 'setBindGroup':
        get<DawnPass>(a).setBindGroup(b as number, get(c));
        encoderParts.get(passEncoder.get(a as number) ?? -1)?.push(c as number);
        break;
      case 'dispatch':
        get<DawnPass>(a).dispatchWorkgroups(b as number, c as number, e as number);
        break;
      case 'end':
        get<DawnPass>(a).end();
        break;
      case 'copy':
        get<DawnEncoder>(a).copyBufferToBuffer(get(b), c as number, get(e), f as number, g as number);
        break;
      case 'finish': {
        objects.set(b as number, get<DawnEncoder>(a).finish());
        for (const id of encoderParts.get(a as number) ?? []) {
          objects.delete(id);
          passEncoder.delete(id);
        }
        encoderParts.delete(a as number);
        objects.delete(a as number);
        break;
      }
      case 'submit': {
        const ids = a as number[];
        d.queue.submit(ids.map((id) => get(id)));
        for (const id of ids) objects.delete(id);
        break;
      }
      default:
        throw new Error(`unknown operation '${code}'`);
    }
  }

  function run(ops: Op[] | undefined): void {
    if (!ops?.length) return;
    if (!device) {
      note('GPU operations before a device was opened');
      return;
    }
    for (const op of ops) {
      try {
        exec(op);
      } catch (err) {
        note(`${op[0]}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Copy `size` bytes of buffer `id` into the SharedArrayBuffer after its 16-byte header
   * ([status, bytes, error bytes]); without an id, only run the operations (a barrier).
   */
  async function read(m: Request): Promise<void> {
    const sab = m.sab!;
    const head = new Int32Array(sab, 0, 4);
    const payload = new Uint8Array(sab, 16);
    let status = 1;
    try {
      run(m.ops);
      if (m.id === undefined) throw undefined; // a barrier: nothing to read
      const size = m.size!;
      const buf = get<DawnBuffer>(m.id);
      let src = buf;
      if (!(buf.usage & MAP_READ)) {
        if (!staging || staging.size < size) {
          staging?.buffer.destroy();
          const cap = Math.max(size, 1 << 20);
          staging = { buffer: device!.createBuffer({ size: cap, usage: MAP_READ | COPY_DST }), size: cap };
        }
        const enc = device!.createCommandEncoder();
        enc.copyBufferToBuffer(buf, 0, staging.buffer, 0, size);
        device!.queue.submit([enc.finish()]);
        src = staging.buffer;
      }
      await src.mapAsync(MAP_READ, 0, size);
      payload.set(new Uint8Array(src.getMappedRange(0, size)));
      src.unmap();
      head[1] = size;
    } catch (err) {
      if (err !== undefined) note(`read: ${(err as Error).message}`);
    }
    if (errors.length) {
      status = 2;
      const text = new TextEncoder().encode(errors.splice(0).join('; ')).subarray(0, payload.length);
      payload.set(text);
      head[2] = text.length;
    }
    Atomics.store(head, 0, status);
    Atomics.notify(head, 0);
  }

  port.on('message', (m: Request) => {
    if (m.t === 'ops') return run(m.ops);
    if (m.t === 'read') return void read(m);
    const reply = (p: Promise<unknown>) =>
      p.then(
        (value) => port.postMessage({ rid: m.rid, value }),
        (err) => port.postMessage({ rid: m.rid, error: String((err as Error)?.message ?? err) }),
      );
    if (fatal) return void port.postMessage({ rid: m.rid, error: fatal });
    if (m.t === 'probe') void reply(probe());
    else if (m.t === 'open') void reply(open(m.adapter ?? 0));
  });
}
