/**
 * A safe reader for the Python pickles the Planetoid citation data sets ship as
 * (`ind.<name>.{x,y,tx,ty,allx,ally,graph}`: Python-2 cPickle, protocol 2).
 *
 * This is a pickle *virtual machine that only builds data*: it never calls anything. A GLOBAL opcode
 * may only name one of the classes on the allow-list below (numpy arrays and dtypes, scipy's
 * csr_matrix, `collections.defaultdict`, `list`, `object` and `copy_reg._reconstructor`); any other
 * name — `os.system`, `builtins.eval`, `__builtin__.getattr`, … — is refused the moment the opcode
 * is read, before any REDUCE/BUILD could use it. REDUCE / NEWOBJ / BUILD on allowed names are
 * interpreted as plain data constructors written here in TypeScript.
 *
 * Output:
 *  - numpy arrays   → `{ kind: 'ndarray', dtype, shape, data }` (typed array, row-major; int64/uint64
 *                      become Float64Array, exact up to 2^53)
 *  - csr_matrix     → `{ kind: 'csr', shape: [rows, cols], data, indices, indptr }`
 *  - dict / defaultdict → `Map` (keys: number | string)
 *  - list / tuple   → arrays; Python 2 `str` / bytes → string decoded as latin1 (like Python 3's
 *                      `pickle.load(f, encoding='latin1')`); int → number (bigint beyond 2^53); float → number.
 *  - other allowed instances → null-prototype objects of their attributes
 *
 * What a pickle may build is budgeted from its size: every value pushed and every item a
 * constructor copies (`list(x)` of a memoised list, …) counts against 4 × the file's bytes + 64 Ki
 * (the real Cora files use under 1 per byte), memo indices must be ones a file of that size can
 * have written, integers are at most 64 bytes, nesting at most 1000 deep. `isNdArray` /
 * `isCsrMatrix` recognise only arrays this reader built (an object with `kind: 'ndarray'`
 * attributes is not one), and the dense conversion checks the shape against the data and caps the
 * size, naming the file.
 */

export type NdData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

export interface NdArray {
  kind: 'ndarray';
  /** numpy-style type string without byte order: 'f4', 'f8', 'i4', 'i8', 'u1', 'b1', … */
  dtype: string;
  shape: number[];
  data: NdData;
}

export interface CsrMatrix {
  kind: 'csr';
  shape: [number, number];
  data: NdData;
  indices: NdData;
  indptr: NdData;
}

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** Thrown when a pickle names a global outside the allow-list. */
export class UnsafePickleError extends PickleError {
  constructor(message: string, readonly global: string) {
    super(message);
    this.name = 'UnsafePickleError';
  }
}

// ---------------------------------------------------------------------------------------------
// Allow-list. Keys are "module.name". Python-3 / newer-numpy / newer-scipy spellings of the same
// classes are accepted too, since the files are often re-saved by newer tools.

type GlobalKind = 'reconstruct' | 'ndarray' | 'dtype' | 'scalar' | 'csr_matrix' | 'copyreg_reconstructor' | 'object' | 'defaultdict' | 'list' | 'dict' | 'tuple' | 'set';

const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalKind> = new Map<string, GlobalKind>([
  ['numpy.core.multiarray._reconstruct', 'reconstruct'],
  ['numpy._core.multiarray._reconstruct', 'reconstruct'],
  ['numpy.ndarray', 'ndarray'],
  ['numpy.dtype', 'dtype'],
  ['numpy.core.multiarray.scalar', 'scalar'],
  ['numpy._core.multiarray.scalar', 'scalar'],
  ['scipy.sparse.csr.csr_matrix', 'csr_matrix'],
  ['scipy.sparse._csr.csr_matrix', 'csr_matrix'],
  ['copy_reg._reconstructor', 'copyreg_reconstructor'],
  ['copyreg._reconstructor', 'copyreg_reconstructor'],
  ['__builtin__.object', 'object'],
  ['builtins.object', 'object'],
  ['collections.defaultdict', 'defaultdict'],
  ['__builtin__.list', 'list'],
  ['builtins.list', 'list'],
  ['__builtin__.dict', 'dict'],
  ['builtins.dict', 'dict'],
  ['__builtin__.tuple', 'tuple'],
  ['builtins.tuple', 'tuple'],
  ['__builtin__.set', 'set'],
  ['builtins.set', 'set'],
]);

/** The globals a pickle may name; anything else is rejected. */
export const PICKLE_ALLOWED_GLOBALS: readonly string[] = [...ALLOWED_GLOBALS.keys()];

// ---------------------------------------------------------------------------------------------
// Internal VM values.

class PyGlobal {
  constructor(readonly fullName: string, readonly kind: GlobalKind) {}
}

/** Python 2 str / Python 3 bytes: kept as a byte view until we know whether it is text or raw data. */
class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
  toString(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('latin1');
  }
}

class PyDType {
  byteOrder: '<' | '>' | '|' = '<';
  constructor(readonly code: string) {}
}

class PyNdArray {
  built?: NdArray;
}

/** An instance of an allowed class (csr_matrix, object) with its attribute dictionary. */
class PyInstance {
  readonly attrs = new Map<string, unknown>();
  constructor(readonly cls: PyGlobal) {}
}

type PyKey = number | string | bigint | boolean | null;
class PyDict {
  readonly map = new Map<PyKey, unknown>();
  constructor(readonly isDefaultDict = false) {}
}

class PyTuple {
  constructor(readonly items: unknown[]) {}
}

// ---------------------------------------------------------------------------------------------

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2',
  0x8a: 'LONG1', 0x8b: 'LONG4', 0x47: 'BINFLOAT', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8',
  0x55: 'SHORT_BINSTRING', 0x54: 'BINSTRING', 0x43: 'SHORT_BINBYTES', 0x42: 'BINBYTES', 0x8e: 'BINBYTES8',
  0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x29: 'EMPTY_TUPLE', 0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x5d: 'EMPTY_LIST', 0x6c: 'LIST', 0x61: 'APPEND', 0x65: 'APPENDS', 0x7d: 'EMPTY_DICT', 0x64: 'DICT',
  0x73: 'SETITEM', 0x75: 'SETITEMS', 0x28: 'MARK', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x94: 'MEMOIZE', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x52: 'REDUCE', 0x62: 'BUILD',
  0x81: 'NEWOBJ', 0x2e: 'STOP', 0x69: 'INST', 0x6f: 'OBJ', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x82: 'EXT1',
  0x83: 'EXT2', 0x84: 'EXT4', 0x92: 'NEWOBJ_EX', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
};

/**
 * Parse a pickle into plain JS data. `name` (usually the file name) prefixes every error message.
 * Throws `UnsafePickleError` for a global outside the allow-list, `PickleError` for truncated or
 * corrupt input.
 */
export function loadPickle(buf: Uint8Array, name: string): unknown {
  try {
    const vm = new PickleVM(buf, name);
    return toJS(vm.run(), name);
  } catch (err) {
    // A typed array too large for this process: the file asked for it.
    if (err instanceof RangeError) throw new PickleError(`${name}: cannot allocate what the pickle describes (${err.message})`);
    throw err;
  }
}

/** Values and copied items a pickle of `bytes` bytes may build. */
export function pickleBudget(bytes: number): number {
  return 4 * bytes + 65536;
}

/** Arrays and matrices built by this reader (the only ones isNdArray / isCsrMatrix accept). */
const BUILT = new WeakSet<object>();

class PickleVM {
  private pos = 0;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;
  private opPos = 0;
  private opName = '';
  private spent = 0;
  private readonly budget: number;

  constructor(private readonly buf: Uint8Array, private readonly name: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.budget = pickleBudget(buf.length);
  }

  /** Count n values built against the budget from the file's size. */
  private spend(n: number): void {
    this.spent += n;
    if (this.spent > this.budget) this.fail(`the pickle builds more than ${this.budget} values (budget for a file of ${this.buf.length} bytes), at byte ${this.opPos} (${this.opName}): refusing it`);
  }

  private memoPut(i: number): void {
    // Python's pickler numbers memo entries from 0, one per PUT: an index beyond the file's size was not written by it.
    if (i >= this.buf.length) this.corrupt(`memo index ${i} is beyond what a ${this.buf.length}-byte pickle can hold`);
    this.memo.set(i, this.top());
  }

  private fail(msg: string): never {
    throw new PickleError(`${this.name}: ${msg}`);
  }
  private corrupt(msg: string): never {
    this.fail(`corrupt pickle at byte ${this.opPos} (${this.opName}): ${msg}`);
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) this.fail(`pickle truncated at byte ${this.buf.length} (opcode ${this.opName} at byte ${this.opPos} needs ${n} more bytes)`);
  }
  private u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.corrupt(`length ${v} is too large`);
    return Number(v);
  }
  private bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  private line(): string {
    const start = this.pos;
    const end = this.buf.indexOf(0x0a, start);
    if (end < 0) this.fail(`pickle truncated at byte ${this.buf.length} (unterminated line in ${this.opName} at byte ${this.opPos})`);
    this.pos = end + 1;
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('latin1');
  }

  private push(v: unknown): void {
    this.spend(1);
    this.stack.push(v);
  }
  private pop(): unknown {
    if (this.stack.length === 0) this.corrupt('stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) this.corrupt('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  /** Pop everything down to the last MARK and return it. */
  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) this.corrupt('no MARK on the stack');
    this.stack = prev;
    return items;
  }

  private checkGlobal(module: string, attr: string): PyGlobal {
    const full = `${module}.${attr}`;
    const kind = ALLOWED_GLOBALS.get(full);
    if (!kind) {
      throw new UnsafePickleError(
        `${this.name}: refusing to load pickle: it references the global '${full}' (byte ${this.opPos}), which is not on the allow-list of ` +
          `numpy/scipy/collections classes a Planetoid data file may use; nothing was executed`,
        full,
      );
    }
    return new PyGlobal(full, kind);
  }

  run(): unknown {
    const buf = this.buf;
    for (;;) {
      if (this.pos >= buf.length) this.fail(`pickle truncated at byte ${buf.length} (no STOP opcode)`);
      this.opPos = this.pos;
      const op = buf[this.pos++];
      this.opName = OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
      switch (op) {
        case 0x80: // PROTO
          if (this.u8() > 5) this.corrupt('unsupported protocol');
          break;
        case 0x95: // FRAME: just a length hint
          this.u64();
          break;
        case 0x63: { // GLOBAL
          const module = this.line();
          const attr = this.line();
          this.push(this.checkGlobal(module, attr));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const attr = this.pop();
          const module = this.pop();
          if (typeof attr !== 'string' || typeof module !== 'string') this.corrupt('STACK_GLOBAL needs two strings');
          this.push(this.checkGlobal(module, attr));
          break;
        }
        case 0x4a: this.push(this.i32()); break; // BININT
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.u16()); break; // BININT2
        case 0x8a: this.push(decodeLong(this.bytes(this.u8()))); break; // LONG1
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) this.corrupt('negative length');
          // No Planetoid number needs more than 8 bytes; a long integer costs quadratic time to decode.
          if (n > 64) this.corrupt(`integer of ${n} bytes (at most 64)`);
          this.push(decodeLong(this.bytes(n)));
          break;
        }
        case 0x47: { // BINFLOAT (big-endian double)
          this.need(8);
          this.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        }
        case 0x58: this.push(utf8(this.bytes(this.u32()))); break; // BINUNICODE
        case 0x8c: this.push(utf8(this.bytes(this.u8()))); break; // SHORT_BINUNICODE
        case 0x8d: this.push(utf8(this.bytes(this.u64()))); break; // BINUNICODE8
        case 0x55: this.push(new PyBytes(this.bytes(this.u8()))); break; // SHORT_BINSTRING
        case 0x54: { // BINSTRING
          const n = this.i32();
          if (n < 0) this.corrupt('negative length');
          this.push(new PyBytes(this.bytes(n)));
          break;
        }
        case 0x43: this.push(new PyBytes(this.bytes(this.u8()))); break; // SHORT_BINBYTES
        case 0x42: this.push(new PyBytes(this.bytes(this.u32()))); break; // BINBYTES
        case 0x8e: this.push(new PyBytes(this.bytes(this.u64()))); break; // BINBYTES8
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x29: this.push(new PyTuple([])); break; // EMPTY_TUPLE
        case 0x74: this.push(new PyTuple(this.popMark())); break; // TUPLE
        case 0x85: { // TUPLE1
          const a = this.pop();
          this.push(new PyTuple([a]));
          break;
        }
        case 0x86: { // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.push(new PyTuple([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push(new PyTuple([a, b, c]));
          break;
        }
        case 0x5d: this.push([]); break; // EMPTY_LIST
        case 0x6c: this.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const v = this.pop();
          const list = this.top();
          if (!Array.isArray(list)) this.corrupt('APPEND target is not a list');
          list.push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) this.corrupt('APPENDS target is not a list');
          for (const v of items) list.push(v);
          break;
        }
        case 0x7d: this.push(new PyDict()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2 !== 0) this.corrupt('odd number of items');
          const d = new PyDict();
          for (let i = 0; i < items.length; i += 2) d.map.set(this.key(items[i]), items[i + 1]);
          this.push(d);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          const d = this.top();
          if (!(d instanceof PyDict)) this.corrupt('SETITEM target is not a dict');
          d.map.set(this.key(k), v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          if (items.length % 2 !== 0) this.corrupt('odd number of items');
          const d = this.top();
          if (!(d instanceof PyDict)) this.corrupt('SETITEMS target is not a dict');
          for (let i = 0; i < items.length; i += 2) d.map.set(this.key(items[i]), items[i + 1]);
          break;
        }
        case 0x8f: this.push(new Set<unknown>()); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.corrupt('ADDITEMS target is not a set');
          for (const v of items) s.add(v);
          break;
        }
        case 0x91: this.push(new Set<unknown>(this.popMark())); break; // FROZENSET
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x30: // POP
          if (this.stack.length === 0) this.popMark();
          else this.stack.pop();
          break;
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.push(this.top()); break; // DUP
        case 0x71: this.memoPut(this.u8()); break; // BINPUT
        case 0x72: this.memoPut(this.u32()); break; // LONG_BINPUT
        case 0x94: this.memoPut(this.memo.size); break; // MEMOIZE
        case 0x68: this.push(this.get(this.u8())); break; // BINGET
        case 0x6a: this.push(this.get(this.u32())); break; // LONG_BINGET
        case 0x52: { // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.push(this.reduce(fn, args));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.push(this.newObj(cls, args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x69: { // INST (protocol 0): names a class to call; check the name, then refuse the opcode
          const module = this.line();
          const attr = this.line();
          this.checkGlobal(module, attr);
          this.fail(`unsupported pickle opcode INST at byte ${this.opPos}; Planetoid data files do not use it`);
        }
        case 0x2e: { // STOP
          const v = this.pop();
          return v;
        }
        default:
          if (OPNAMES[op]) this.fail(`unsupported pickle opcode ${OPNAMES[op]} at byte ${this.opPos}; Planetoid data files do not use it`);
          this.fail(`not a valid pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${this.opPos}`);
      }
    }
  }

  private get(i: number): unknown {
    if (!this.memo.has(i)) this.corrupt(`memo key ${i} was never stored`);
    return this.memo.get(i);
  }

  private key(k: unknown): PyKey {
    if (k instanceof PyBytes) return k.toString();
    if (typeof k === 'number' || typeof k === 'string' || typeof k === 'bigint' || typeof k === 'boolean' || k === null) return k;
    this.corrupt('unsupported dict key type');
  }

  private reduce(fn: unknown, argsV: unknown): unknown {
    if (!(fn instanceof PyGlobal)) this.corrupt('REDUCE on something that is not an allowed class');
    if (!(argsV instanceof PyTuple)) this.corrupt('REDUCE arguments are not a tuple');
    const args = argsV.items;
    switch (fn.kind) {
      case 'reconstruct': {
        // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'): an empty array filled in by BUILD.
        const cls = args[0];
        if (!(cls instanceof PyGlobal) || cls.kind !== 'ndarray') this.corrupt('_reconstruct of something other than numpy.ndarray');
        return new PyNdArray();
      }
      case 'dtype': {
        const code = args[0];
        const s = code instanceof PyBytes ? code.toString() : code;
        if (typeof s !== 'string') this.corrupt('numpy.dtype needs a type string');
        return makeDType(s, (m) => this.corrupt(m));
      }
      case 'scalar': {
        const dt = args[0];
        const raw = args[1];
        if (!(dt instanceof PyDType)) this.corrupt('numpy scalar without dtype');
        const bytes = raw instanceof PyBytes ? raw.bytes : typeof raw === 'string' ? Buffer.from(raw, 'latin1') : undefined;
        if (!bytes) this.corrupt('numpy scalar without data');
        const arr = decodeArray(dt, [], bytes, false, (m) => this.corrupt(m));
        return arr.data[0];
      }
      case 'copyreg_reconstructor': {
        // copy_reg._reconstructor(cls, object, None) == object.__new__(cls)
        const cls = args[0];
        if (!(cls instanceof PyGlobal)) this.corrupt('_reconstructor of a non-class');
        return this.instantiate(cls);
      }
      case 'defaultdict':
        return new PyDict(true);
      case 'dict':
        return new PyDict();
      // These copy their argument: each copied item counts (a memoised list copied over and over
      // from a 1.3 MB file exhausted the heap).
      case 'list':
        return this.copyItems(args, 'list()');
      case 'tuple':
        return new PyTuple(this.copyItems(args, 'tuple()'));
      case 'set':
        return new Set(this.copyItems(args, 'set()'));
      default:
        return this.instantiate(fn);
    }
  }

  private copyItems(args: unknown[], what: string): unknown[] {
    if (args.length === 0) return [];
    const src = Array.isArray(args[0]) ? args[0] : args[0] instanceof PyTuple ? args[0].items : args[0] instanceof Set ? [...args[0]] : this.corrupt(`${what} of a non-sequence`);
    this.spend(src.length);
    return [...src];
  }

  private instantiate(cls: PyGlobal): unknown {
    switch (cls.kind) {
      case 'ndarray':
        return new PyNdArray();
      case 'csr_matrix':
      case 'object':
        return new PyInstance(cls);
      case 'dict':
      case 'defaultdict':
        return new PyDict(cls.kind === 'defaultdict');
      case 'list':
        return [];
      default:
        this.corrupt(`cannot create an instance of ${cls.fullName}`);
    }
  }

  private newObj(cls: unknown, args: unknown): unknown {
    if (!(cls instanceof PyGlobal)) this.corrupt('NEWOBJ on something that is not an allowed class');
    if (!(args instanceof PyTuple)) this.corrupt('NEWOBJ arguments are not a tuple');
    return this.instantiate(cls);
  }

  private build(obj: unknown, state: unknown): void {
    if (obj instanceof PyNdArray) {
      // (version, shape, dtype, is_fortran, rawdata) — or the 4-tuple without version.
      if (!(state instanceof PyTuple)) this.corrupt('ndarray state is not a tuple');
      let s = state.items;
      if (s.length === 5) s = s.slice(1);
      if (s.length !== 4) this.corrupt(`ndarray state has ${state.items.length} items`);
      const [shapeV, dt, fortran, raw] = s;
      if (!(shapeV instanceof PyTuple) || !shapeV.items.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) this.corrupt('bad ndarray shape');
      if (!(dt instanceof PyDType)) this.corrupt('ndarray without a dtype');
      const bytes = raw instanceof PyBytes ? raw.bytes : typeof raw === 'string' ? Buffer.from(raw, 'latin1') : undefined;
      if (!bytes) this.corrupt('ndarray data is not a byte string (object arrays are not supported)');
      obj.built = decodeArray(dt, shapeV.items as number[], bytes, fortran === true || fortran === 1, (m) => this.corrupt(m));
      return;
    }
    if (obj instanceof PyDType) {
      // (version, byteorder, subdescr, names, fields, elsize, alignment, flags[, metadata])
      if (!(state instanceof PyTuple) || state.items.length < 2) this.corrupt('dtype state is not a tuple');
      const bo = state.items[1];
      const b = bo instanceof PyBytes ? bo.toString() : bo;
      if (state.items[3] !== null && state.items[3] !== undefined) this.corrupt('structured dtypes are not supported');
      if (b === '>') obj.byteOrder = '>';
      else if (b === '|') obj.byteOrder = '|';
      else if (b === '<' || b === '=') obj.byteOrder = '<';
      else this.corrupt(`unknown byte order ${String(b)}`);
      return;
    }
    if (obj instanceof PyInstance) {
      let dictState = state;
      if (state instanceof PyTuple && state.items.length === 2) dictState = state.items[0] ?? state.items[1];
      if (!(dictState instanceof PyDict)) this.corrupt(`state of ${obj.cls.fullName} is not a dict`);
      for (const [k, v] of dictState.map) obj.attrs.set(String(k), v);
      return;
    }
    if (obj instanceof PyDict) {
      if (!(state instanceof PyDict)) this.corrupt('dict state is not a dict');
      for (const [k, v] of state.map) obj.map.set(k, v);
      return;
    }
    this.corrupt('BUILD on an object that has no state');
  }
}

function utf8(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}

/** Little-endian two's-complement integer (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const ITEMSIZE: Record<string, number> = { b1: 1, i1: 1, u1: 1, i2: 2, u2: 2, f2: 2, i4: 4, u4: 4, f4: 4, i8: 8, u8: 8, f8: 8 };
const CHAR_CODES: Record<string, string> = { '?': 'b1', b: 'i1', B: 'u1', h: 'i2', H: 'u2', e: 'f2', i: 'i4', I: 'u4', l: 'i8', L: 'u8', q: 'i8', Q: 'u8', f: 'f4', d: 'f8' };

function makeDType(s: string, fail: (m: string) => never): PyDType {
  let code = s;
  let order: '<' | '>' | '|' | undefined;
  if (code.length > 1 && '<>|='.includes(code[0])) {
    order = code[0] === '=' ? '<' : (code[0] as '<' | '>' | '|');
    code = code.slice(1);
  }
  code = CHAR_CODES[code] ?? code;
  if (code === 'b' || code === '?') code = 'b1';
  if (!(code in ITEMSIZE)) fail(`unsupported numpy dtype '${s}'`);
  const dt = new PyDType(code);
  if (order) dt.byteOrder = order;
  return dt;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

function decodeArray(dt: PyDType, shape: number[], bytes: Uint8Array, fortran: boolean, fail: (m: string) => never): NdArray {
  const size = shape.reduce((a, b) => a * b, 1);
  const itemsize = ITEMSIZE[dt.code];
  if (bytes.length !== size * itemsize) fail(`ndarray of shape (${shape.join(', ')}) and dtype ${dt.code} needs ${size * itemsize} bytes, got ${bytes.length}`);
  const little = dt.byteOrder !== '>';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let data: NdData;
  switch (dt.code) {
    case 'b1':
    case 'u1':
      data = new Uint8Array(bytes);
      break;
    case 'i1':
      data = new Int8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      break;
    case 'i2': {
      const a = new Int16Array(size);
      for (let i = 0; i < size; i++) a[i] = view.getInt16(2 * i, little);
      data = a;
      break;
    }
    case 'u2': {
      const a = new Uint16Array(size);
      for (let i = 0; i < size; i++) a[i] = view.getUint16(2 * i, little);
      data = a;
      break;
    }
    case 'f2': {
      const a = new Float32Array(size);
      for (let i = 0; i < size; i++) a[i] = halfToFloat(view.getUint16(2 * i, little));
      data = a;
      break;
    }
    case 'i4': {
      const a = new Int32Array(size);
      for (let i = 0; i < size; i++) a[i] = view.getInt32(4 * i, little);
      data = a;
      break;
    }
    case 'u4': {
      const a = new Uint32Array(size);
      for (let i = 0; i < size; i++) a[i] = view.getUint32(4 * i, little);
      data = a;
      break;
    }
    case 'f4': {
      const a = new Float32Array(size);
      for (let i = 0; i < size; i++) a[i] = view.getFloat32(4 * i, little);
      data = a;
      break;
    }
    case 'f8': {
      const a = new Float64Array(size);
      for (let i = 0; i < size; i++) a[i] = view.getFloat64(8 * i, little);
      data = a;
      break;
    }
    case 'i8': {
      const a = new Float64Array(size);
      for (let i = 0; i < size; i++) a[i] = Number(view.getBigInt64(8 * i, little));
      data = a;
      break;
    }
    case 'u8': {
      const a = new Float64Array(size);
      for (let i = 0; i < size; i++) a[i] = Number(view.getBigUint64(8 * i, little));
      data = a;
      break;
    }
    default:
      fail(`unsupported numpy dtype '${dt.code}'`);
  }
  if (fortran && shape.length >= 2) data = fortranToC(data, shape);
  const out: NdArray = { kind: 'ndarray', dtype: dt.code, shape: [...shape], data };
  BUILT.add(out);
  return out;
}

/** Reorder column-major data to row-major. */
function fortranToC<T extends NdData>(src: T, shape: number[]): T {
  const n = src.length;
  const out = new (src.constructor as new (n: number) => T)(n);
  const rank = shape.length;
  const fStrides = new Array<number>(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) {
    fStrides[d] = s;
    s *= shape[d];
  }
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let d = 0; d < rank; d++) f += idx[d] * fStrides[d];
    out[i] = src[f];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Conversion of VM values to the plain output data.

/** Convert VM values to output data; shared (memoised) objects stay shared, cycles stay cycles. */
function toJS(v: unknown, name: string, depth = 0, seen = new Map<object, unknown>()): unknown {
  if (depth > 1000) throw new PickleError(`${name}: pickle nests too deeply`);
  if (typeof v !== 'object' || v === null) return v;
  if (seen.has(v)) return seen.get(v);
  const rec = (x: unknown): unknown => toJS(x, name, depth + 1, seen);
  if (v instanceof PyNdArray) {
    if (!v.built) throw new PickleError(`${name}: numpy array was never given its data (missing BUILD)`);
    return v.built;
  }
  if (v instanceof PyBytes) return v.toString();
  if (v instanceof PyTuple || Array.isArray(v)) {
    const items = v instanceof PyTuple ? v.items : v;
    const out: unknown[] = [];
    seen.set(v, out);
    for (const x of items) out.push(rec(x));
    return out;
  }
  if (v instanceof PyDict) {
    const m = new Map<unknown, unknown>();
    seen.set(v, m);
    for (const [k, x] of v.map) m.set(k, rec(x));
    return m;
  }
  if (v instanceof Set) {
    const out = new Set<unknown>();
    seen.set(v, out);
    for (const x of v) out.add(rec(x));
    return out;
  }
  if (v instanceof PyInstance) {
    if (v.cls.kind === 'csr_matrix') {
      const m = csrFromAttrs(v, name);
      seen.set(v, m);
      return m;
    }
    // No prototype: an attribute named __proto__ is an attribute, not the object's prototype.
    const o = Object.create(null) as Record<string, unknown>;
    seen.set(v, o);
    for (const [k, x] of v.attrs) o[k] = rec(x);
    return o;
  }
  if (v instanceof PyDType) return { kind: 'dtype', dtype: v.code, byteOrder: v.byteOrder };
  if (v instanceof PyGlobal) return { kind: 'global', name: v.fullName };
  return v;
}

function csrFromAttrs(v: PyInstance, name: string): CsrMatrix {
  const get = (k: string): NdArray => {
    const x = v.attrs.get(k);
    if (!(x instanceof PyNdArray) || !x.built) throw new PickleError(`${name}: csr_matrix has no '${k}' array`);
    return x.built;
  };
  const shapeV = v.attrs.get('_shape') ?? v.attrs.get('shape');
  if (!(shapeV instanceof PyTuple) || shapeV.items.length !== 2 || !shapeV.items.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new PickleError(`${name}: csr_matrix has no valid shape`);
  }
  const shape = shapeV.items as [number, number];
  const data = get('data').data;
  const indices = get('indices').data;
  const indptr = get('indptr').data;
  if (indptr.length !== shape[0] + 1) throw new PickleError(`${name}: csr_matrix indptr has ${indptr.length} entries for ${shape[0]} rows`);
  const nnz = indptr[shape[0]];
  if (indptr[0] !== 0 || nnz !== data.length || nnz !== indices.length) throw new PickleError(`${name}: csr_matrix is inconsistent (indptr ends at ${nnz}, ${data.length} values, ${indices.length} indices)`);
  // Indices are used to address memory: integers, in range (a typed array ignores a write at 1.5).
  for (let r = 0; r < shape[0]; r++) if (!Number.isInteger(indptr[r + 1]) || indptr[r + 1] < indptr[r]) throw new PickleError(`${name}: csr_matrix indptr is not a non-decreasing list of integers at row ${r}`);
  for (let i = 0; i < indices.length; i++) {
    if (!(Number.isInteger(indices[i]) && indices[i] >= 0 && indices[i] < shape[1])) throw new PickleError(`${name}: csr_matrix column index ${indices[i]} is not an integer in [0, ${shape[1]})`);
  }
  const m: CsrMatrix = { kind: 'csr', shape: [shape[0], shape[1]], data, indices, indptr };
  BUILT.add(m);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Typed helpers.

/** An array this reader decoded (an object that merely says `kind: 'ndarray'` is not one). */
export function isNdArray(v: unknown): v is NdArray {
  return typeof v === 'object' && v !== null && BUILT.has(v) && (v as { kind?: unknown }).kind === 'ndarray';
}
export function isCsrMatrix(v: unknown): v is CsrMatrix {
  return typeof v === 'object' && v !== null && BUILT.has(v) && (v as { kind?: unknown }).kind === 'csr';
}

/** Largest dense matrix `toDense2D` builds: 2^28 floats, 1 GiB (Pubmed's features are 9.9 M). */
export const MAX_DENSE_ELEMENTS = 2 ** 28;

/** A 2-D matrix (numpy array or csr_matrix) as a dense row-major Float32Array. */
export function toDense2D(v: unknown, name: string, maxElements = MAX_DENSE_ELEMENTS): { rows: number; cols: number; data: Float32Array } {
  const shape = isCsrMatrix(v) || isNdArray(v) ? v.shape : undefined;
  if (shape && shape.length === 2 && shape[0] * shape[1] > maxElements) {
    throw new PickleError(`${name}: a ${shape[0]} × ${shape[1]} matrix is ${((shape[0] * shape[1] * 4) / 2 ** 30).toFixed(1)} GiB as dense float32 (at most ${(maxElements * 4) / 2 ** 30} GiB)`);
  }
  if (isCsrMatrix(v)) {
    const [rows, cols] = v.shape;
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let p = v.indptr[r]; p < v.indptr[r + 1]; p++) out[r * cols + v.indices[p]] += v.data[p];
    }
    return { rows, cols, data: out };
  }
  if (isNdArray(v)) {
    if (v.shape.length !== 2) throw new PickleError(`${name}: expected a 2-D array, got shape (${v.shape.join(', ')})`);
    if (v.data.length !== v.shape[0] * v.shape[1]) throw new PickleError(`${name}: array of shape (${v.shape.join(', ')}) holds ${v.data.length} values`);
    return { rows: v.shape[0], cols: v.shape[1], data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) };
  }
  throw new PickleError(`${name}: expected a numpy array or scipy csr_matrix, got ${describe(v)}`);
}

/** An adjacency dict (dict / defaultdict of int -> list of int). */
export function toAdjacency(v: unknown, name: string): Map<number, number[]> {
  if (!(v instanceof Map)) throw new PickleError(`${name}: expected a dict of adjacency lists, got ${describe(v)}`);
  const out = new Map<number, number[]>();
  for (const [k, list] of v) {
    if (typeof k !== 'number' || !Number.isInteger(k)) throw new PickleError(`${name}: adjacency key ${String(k)} is not an integer`);
    if (!Array.isArray(list) || !list.every((j) => typeof j === 'number' && Number.isInteger(j))) throw new PickleError(`${name}: adjacency list of node ${k} is not a list of integers`);
    out.set(k, list as number[]);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'a dict';
  if (typeof v === 'object') return BUILT.has(v) ? (v as { kind: string }).kind : 'an object';
  return typeof v;
}
