import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadPickle, PickleError, UnsafePickleError, isCsrMatrix, isNdArray, toAdjacency, toDense2D, type NdArray } from '../../src/experiments/citation-gnn/pickle';
import { Rng } from '../../src/core/random';
import { planetoidDir, coraSkip } from '../helpers/setup';

const SKIP = coraSkip();
const DATA = planetoidDir;

/** Build pickle bytes from opcode strings (latin1) and raw byte arrays. */
function bytes(...parts: (string | number[] | Uint8Array)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

test('real Cora pickles decode to the expected arrays, sparse matrices and adjacency lists', { skip: SKIP }, () => {
  const dir = DATA;
  const load = (s: string): unknown => loadPickle(fs.readFileSync(path.join(dir, `ind.cora.${s}`)), `ind.cora.${s}`);
  const allx = load('allx');
  assert.ok(isCsrMatrix(allx));
  assert.deepEqual(allx.shape, [1708, 1433]);
  assert.ok(allx.data instanceof Float32Array);
  assert.ok(allx.indices instanceof Int32Array);
  assert.equal(allx.indptr.length, 1709);
  assert.equal(allx.data.length, 31261);
  assert.ok(allx.data.every((v) => v === 1), 'Cora features are binary');
  const tx = load('tx');
  assert.ok(isCsrMatrix(tx));
  assert.deepEqual(tx.shape, [1000, 1433]);
  assert.equal(tx.data.length, 17955);
  const x = load('x');
  assert.ok(isCsrMatrix(x));
  assert.deepEqual(x.shape, [140, 1433]);
  // x is the first 140 rows of allx
  assert.deepEqual(Array.from(toDense2D(x, 'x').data), Array.from(toDense2D(allx, 'allx').data.subarray(0, 140 * 1433)));

  for (const [s, rows] of [['y', 140], ['ty', 1000], ['ally', 1708]] as const) {
    const y = load(s);
    assert.ok(isNdArray(y));
    assert.equal(y.dtype, 'i4');
    assert.deepEqual(y.shape, [rows, 7]);
    for (let r = 0; r < rows; r++) {
      const row: number[] = Array.from(y.data.subarray(r * 7, r * 7 + 7) as ArrayLike<number>);
      assert.equal(row.reduce((a, b) => a + b, 0), 1, `${s} row ${r} is one-hot`);
    }
  }
  const graph = toAdjacency(load('graph'), 'graph');
  assert.equal(graph.size, 2708);
  let entries = 0;
  for (const list of graph.values()) entries += list.length;
  assert.equal(entries, 10858);
  assert.deepEqual(graph.get(0), [633, 1862, 2582]);
  assert.deepEqual(graph.get(1), [2, 652, 654]);
});

test('globals outside the allow-list are rejected, naming the global, before anything runs', () => {
  const marker = path.join(os.tmpdir(), `rbp-pickle-pwned-${process.pid}`);
  const cmd = `touch ${marker}`;
  const cases: [string, Buffer][] = [
    ['os.system', bytes('\x80\x02cos\nsystem\nq\x00X', i32(cmd.length), cmd, 'q\x01\x85q\x02Rq\x03.')],
    ['posix.system', bytes('\x80\x02cposix\nsystem\nX', i32(cmd.length), cmd, '\x85R.')],
    ['builtins.eval', bytes('\x80\x02cbuiltins\neval\nX', i32(12), '__import__()', '\x85R.')],
    ['__builtin__.getattr', bytes('\x80\x02c__builtin__\ngetattr\nc__builtin__\nobject\nU\x08__exit__\x86R.')],
    ['subprocess.Popen', bytes('\x80\x02csubprocess\nPopen\n(U\x02lsU\x02-lt\x85R.')],
    // protocol 4 STACK_GLOBAL spelling
    ['os.system', bytes('\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02ls\x85R.')],
    // a bad global hidden after legitimate data
    ['nt.system', bytes('\x80\x02}(U\x01aK\x01u]K\x02acnt\nsystem\n.')],
    // an allowed module with a disallowed name
    ['numpy.load', bytes('\x80\x02cnumpy\nload\nU\x01x\x85R.')],
  ];
  for (const [name, buf] of cases) {
    assert.throws(
      () => loadPickle(buf, 'evil.pkl'),
      (err: unknown) => {
        assert.ok(err instanceof UnsafePickleError, `${name}: ${String(err)}`);
        assert.equal(err.global, name);
        assert.match(err.message, /^evil\.pkl: /);
        assert.ok(err.message.includes(`'${name}'`), err.message);
        return true;
      },
    );
  }
  // Protocol-0 INST names its class inline; OBJ takes it from the stack. Both refused.
  assert.throws(() => loadPickle(bytes('(U\x02lsios\nsystem\n.'), 'evil0.pkl'), (err: unknown) => err instanceof UnsafePickleError && err.global === 'os.system');
  assert.throws(() => loadPickle(bytes('(c__builtin__\nobject\no.'), 'obj.pkl'), /obj\.pkl: unsupported pickle opcode OBJ/);
  assert.equal(fs.existsSync(marker), false, 'no command ran');
});

test('truncated and corrupt pickles give a clear PickleError, never a hang or a TypeError', { skip: SKIP }, () => {
  const dir = DATA;
  const full = fs.readFileSync(path.join(dir, 'ind.cora.x'));
  const half = full.subarray(0, Math.floor(full.length / 2));
  assert.throws(() => loadPickle(half, 'ind.cora.x'), (err: unknown) => {
    assert.ok(err instanceof PickleError);
    assert.match(err.message, new RegExp(`^ind\\.cora\\.x: pickle truncated at byte ${half.length}`));
    return true;
  });
  const graph = fs.readFileSync(path.join(dir, 'ind.cora.graph'));
  assert.throws(() => loadPickle(graph.subarray(0, graph.length - 1), 'ind.cora.graph'), /ind\.cora\.graph: pickle truncated .*no STOP/);

  // Every cut of a small file fails cleanly.
  const y = fs.readFileSync(path.join(dir, 'ind.cora.y'));
  for (let n = 0; n < y.length; n += 3) {
    assert.throws(() => loadPickle(y.subarray(0, n), 'ind.cora.y'), PickleError, `cut at ${n}`);
  }
  // Random byte corruption: either still a valid pickle, or a PickleError — nothing else.
  const rng = new Rng(42);
  for (let trial = 0; trial < 300; trial++) {
    const bad = Buffer.from(y);
    const flips = 1 + rng.int(3);
    for (let f = 0; f < flips; f++) bad[rng.int(140)] = rng.int(256); // the header and dtype, not the raw data
    try {
      loadPickle(bad, 'ind.cora.y');
    } catch (err) {
      assert.ok(err instanceof PickleError, `trial ${trial}: ${String(err)}`);
    }
  }
  assert.throws(() => loadPickle(Buffer.from('hello world'), 'notes.txt'), /notes\.txt: not a valid pickle: unknown opcode 0x68|notes\.txt: .*(memo|unknown)/);
  assert.throws(() => loadPickle(Buffer.alloc(0), 'empty'), /empty: pickle truncated at byte 0/);
});

test('numpy byte order, Fortran order, int64, and plain Python values are decoded', () => {
  const ndarray = (code: string, order: string, shape: number[], raw: Buffer, fortran: boolean): Buffer =>
    bytes(
      'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01(',
      ...shape.map((d) => bytes('J', i32(d))),
      `tcnumpy\ndtype\nU${String.fromCharCode(code.length)}${code}K\x00K\x01\x87R(K\x03U\x01${order}NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb`,
      fortran ? '\x88' : '\x89',
      'T',
      i32(raw.length),
      raw,
      'tb',
    );
  // big-endian float64, 2×3, Fortran (column-major) order
  const vals = [1.5, -2, 3.25, 4, 5e10, -6.125]; // row-major values of the 2×3 matrix
  const colMajor = [vals[0], vals[3], vals[1], vals[4], vals[2], vals[5]];
  const raw = Buffer.alloc(48);
  colMajor.forEach((v, i) => raw.writeDoubleBE(v, 8 * i));
  const a = loadPickle(bytes('\x80\x02', ndarray('f8', '>', [2, 3], raw, true), '.'), 'a') as NdArray;
  assert.equal(a.dtype, 'f8');
  assert.deepEqual(a.shape, [2, 3]);
  assert.ok(a.data instanceof Float64Array);
  assert.deepEqual(Array.from(a.data), vals);
  // little-endian int64 → Float64Array
  const raw64 = Buffer.alloc(24);
  [-3n, 2n ** 40n, 7n].forEach((v, i) => raw64.writeBigInt64LE(v, 8 * i));
  const b = loadPickle(bytes('\x80\x02', ndarray('i8', '<', [3], raw64, false), '.'), 'b') as NdArray;
  assert.deepEqual(Array.from(b.data), [-3, 2 ** 40, 7]);
  // size mismatch is an error, not garbage
  assert.throws(() => loadPickle(bytes('\x80\x02', ndarray('f4', '<', [5], Buffer.alloc(8), false), '.'), 'c'), /c: corrupt pickle .*needs 20 bytes, got 8/);
  assert.throws(() => loadPickle(bytes('\x80\x02', ndarray('O', '|', [1], Buffer.alloc(8), false), '.'), 'd'), /unsupported numpy dtype 'O'/);

  // dict with text keys, unicode, float, long, bool, None, nested list/tuple, memo reuse
  const v = loadPickle(
    bytes('\x80\x02}q\x00(X\x04\x00\x00\x00k\xc3\xa9yG\x40\x09\x21\xfb\x54\x44\x2d\x18U\x01l\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01', 'U\x01t(\x88\x89Nt', 'U\x01m]q\x01(K\x01M\x00\x01J\xff\xff\xff\xffeU\x01rh\x01u.'),
    'v',
  ) as Map<string, unknown>;
  assert.ok(v instanceof Map);
  assert.equal(v.get('kéy'), Math.PI);
  assert.equal(v.get('l'), 2n ** 64n);
  assert.deepEqual(v.get('t'), [true, false, null]);
  assert.deepEqual(v.get('m'), [1, 256, -1]);
  assert.equal(v.get('r'), v.get('m'), 'memo shares the object');
});

test('what a pickle may build is budgeted from its size: copies, nesting, memo, long integers', () => {
  // list(L) of a memoised 2,000-item list, 1,000 times: 2 M values from 10 KB (the 1.3 MB form of
  // this exhausted the heap; it runs in a child process in test/run/fuzz.test.ts).
  const list = Buffer.concat([bytes('\x80\x02c__builtin__\nlist\nq\x00]q\x01('), Buffer.alloc(4000, 'K\x00', 'latin1'), bytes('e')]);
  const bomb = Buffer.concat([list, Buffer.alloc(6000, 'h\x00h\x01\x85R', 'latin1'), bytes('.')]);
  assert.throws(() => loadPickle(bomb, 'ind.cora.graph'), /^PickleError: ind\.cora\.graph: the pickle builds more than 105648 values \(budget for a file of 10028 bytes\)/);
  // A few copies are fine: the budget is 4 values per byte plus 64 Ki; the real files use at most 0.27.
  assert.equal((loadPickle(Buffer.concat([list, Buffer.alloc(60, 'h\x00h\x01\x85R', 'latin1'), bytes('.')]), 'ten-copies') as unknown[]).length, 2000);
  // Nesting: 100,000 one-item tuples inside each other.
  assert.throws(() => loadPickle(Buffer.concat([bytes('\x80\x02N'), Buffer.alloc(100000, 0x85), bytes('.')]), 'deep'), /deep: pickle nests too deeply/);
  // Memo indices a file of this size cannot have written; integers longer than any number in the data.
  assert.throws(() => loadPickle(bytes('\x80\x02Nr\x00\x00\x00\x10.'), 'memo'), /memo: corrupt pickle .*memo index 268435456 is beyond/);
  assert.throws(() => loadPickle(Buffer.concat([bytes('\x80\x02\x8b'), i32(100000), Buffer.alloc(100000, 1), bytes('.')]), 'long'), /long: corrupt pickle .*integer of 100000 bytes/);
  assert.equal(loadPickle(Buffer.concat([bytes('\x80\x02\x8b'), i32(9), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0x80]), bytes('.')]), 'neg'), -(2n ** 71n));
  // An attribute named __proto__ is an attribute.
  const o = loadPickle(bytes('\x80\x02ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR}(U\x09__proto__}U\x01xK\x01sub.'), 'proto') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(o), null);
  assert.ok(o.__proto__ instanceof Map);
  assert.equal(o.x, undefined);
  assert.equal(isNdArray({ kind: 'ndarray', dtype: 'f4', shape: [1], data: new Float32Array(1) }), false, 'only arrays the reader built');
});
