/**
 * numpy's legacy RandomState (MT19937) against numbers numpy 2.4 printed; each literal names the
 * numpy call that produced it. Mutants tried, each failing at least one test: seeding off by one
 * (key[i] = … + i − 1), a tempering mask with one more effective bit, the twist reading key[k + M + 1],
 * `floor(u · (max + 1))` instead of masked rejection, a mask one bit too wide, a shuffle from the front.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NumpyRandomState } from '../../src/core/numpyRandom';
import { Rng } from '../../src/core/random';

const draws = (r: NumpyRandomState, n: number, f: (r: NumpyRandomState) => number): number[] => Array.from({ length: n }, () => f(r));

test('raw 32-bit outputs equal numpy for several seeds (integer seeding is init_genrand)', () => {
  // np.random.RandomState(s).randint(0, 2**32, size=5, dtype=np.uint64) (a range of 2**32 − 1 returns the raw outputs)
  const want: Record<number, number[]> = {
    0: [2357136044, 2546248239, 3071714933, 3626093760, 2588848963],
    1: [1791095845, 4282876139, 3093770124, 4005303368, 491263],
    1234: [822569775, 2137449171, 2671936806, 3512589365, 1880026316],
    5489: [3499211612, 581869302, 3890346734, 3586334585, 545404204], // the reference MT19937's first outputs
    4294967295: [419326371, 479346978, 3918654476, 2416749639, 3388880820],
  };
  for (const [seed, w] of Object.entries(want)) assert.deepEqual(draws(new NumpyRandomState(Number(seed)), 5, (r) => r.nextUint32()), w, `seed ${seed}`);
  assert.throws(() => new NumpyRandomState(-1), /seed must be an integer/);
  assert.throws(() => new NumpyRandomState(2 ** 32), /seed must be an integer/);
});

test('outputs past the first 624 (the second twist) equal numpy', () => {
  // r = np.random.RandomState(1234); r.randint(0, 2**32, size=1250, dtype=np.uint64)[[623, 624, 1247, 1248, 1249]]
  const r = new NumpyRandomState(1234);
  const all = draws(r, 1250, (x) => x.nextUint32());
  assert.deepEqual([623, 624, 1247, 1248, 1249].map((i) => all[i]), [1664263489, 303637765, 35944731, 4123653785, 2009949940]);
});

test('the bounded draw equals numpy\'s legacy randint, rejection path included', () => {
  // np.random.RandomState(0).randint(0, 5, size=20): mask 7, so 5, 6 and 7 are rejected (3 of 8 draws)
  assert.deepEqual(draws(new NumpyRandomState(0), 20, (r) => r.randint(5)), [4, 0, 3, 3, 3, 1, 3, 2, 4, 0, 0, 4, 2, 1, 0, 1, 1, 0, 1, 4]);
  // np.random.RandomState(1234).randint(0, 3, size=20): mask 3, value 3 rejected
  assert.deepEqual(draws(new NumpyRandomState(1234), 20, (r) => r.randint(3)), [2, 1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 2, 2, 2, 0, 0, 0, 1]);
  // np.random.RandomState(3).randint(0, 2**31 + 1, size=6): mask 2**32 − 1, almost half the draws rejected
  assert.deepEqual(draws(new NumpyRandomState(3), 6, (r) => r.randint(2 ** 31 + 1)), [303761048, 1249426360, 521102280, 1877166739, 80522091, 539384825]);
  // the rejection path really is taken: the raw draws behind the first bounded ones include rejected values
  const raw = draws(new NumpyRandomState(0), 20, (r) => r.nextUint32() & 7);
  assert.ok(raw.some((v) => v > 4), 'seed 0 draws a value above 4 (a rejection) among its first 20');
  assert.equal(new NumpyRandomState(9).interval(0), 0);
});

test('permutation equals numpy\'s legacy permutation (Fisher–Yates from the end) for several seeds and sizes', () => {
  // np.random.RandomState(1234).permutation(2708): the first ten and the last five
  const p = new NumpyRandomState(1234).permutation(2708);
  assert.deepEqual(Array.from(p.subarray(0, 10)), [2297, 298, 702, 220, 2275, 1439, 1446, 464, 59, 1726]);
  assert.deepEqual(Array.from(p.subarray(2703)), [279, 2041, 664, 1318, 723]);
  assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 2708 }, (_, i) => i), 'a permutation');
  // np.random.RandomState(0).permutation(10)
  assert.deepEqual(Array.from(new NumpyRandomState(0).permutation(10)), [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
  // np.random.RandomState(42).permutation(5)
  assert.deepEqual(Array.from(new NumpyRandomState(42).permutation(5)), [1, 4, 2, 0, 3]);
  // np.random.RandomState(2**32 - 1).permutation(17)
  assert.deepEqual(Array.from(new NumpyRandomState(4294967295).permutation(17)), [8, 1, 5, 14, 10, 15, 16, 13, 11, 9, 6, 0, 4, 7, 12, 2, 3]);
  // np.random.RandomState(7).permutation(1), and an empty one
  assert.deepEqual(Array.from(new NumpyRandomState(7).permutation(1)), [0]);
  assert.deepEqual(Array.from(new NumpyRandomState(7).permutation(0)), []);
});

test('getState/setState continue the same sequence (checkpoints), for NumpyRandomState and Rng', () => {
  const a = new NumpyRandomState(7);
  for (let i = 0; i < 700; i++) a.nextUint32(); // past one twist
  const st = a.getState();
  const b = new NumpyRandomState(1);
  b.setState(JSON.parse(JSON.stringify(st)));
  assert.deepEqual(Array.from({ length: 1000 }, () => b.nextUint32()), Array.from({ length: 1000 }, () => a.nextUint32()));
  assert.throws(() => b.setState({ mt: [1, 2], pos: 0 }), /624 32-bit words/);
  const r = new Rng(3);
  r.next();
  const r2 = new Rng(99);
  r2.setState(r.getState());
  assert.deepEqual([r2.next(), r2.next()], [r.next(), r.next()]);
  assert.throws(() => r2.setState(-1), /32-bit unsigned/);
});
