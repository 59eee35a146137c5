// @ts-check
/**
 * WebAssembly text of this project's wasm kernels (run at build time only: scripts/wasm-plugin.mjs
 * assembles it with wabt and embeds the bytes in the bundles; `./module.ts` instantiates them on
 * tfjs-backend-wasm's own heap, so that tensors are read and written in place).
 * All addresses are byte offsets into that heap; all data float32 unless said.
 *
 *   pack(src, dst, K, N, sk, sn)
 *     Copies B[K,N] (element (k,n) at src + k·sk + n·sn, so a transposed B costs nothing extra)
 *     into panels of W = 4·NR columns: dst[(p·K + k)·W + l] = B[k, p·W + l], zero past column N.
 *   gemm(a, bp, c, biasp, M, K, N, sai, sak, flags, panel, bk, ldc)
 *     C[M,N] = A·B (+ bias if flags & 1) (+ C if flags & 2), C's rows `ldc` bytes apart; B read
 *     in panels of W columns, `panel` bytes from one panel to the next and `bk` bytes from one
 *     row k of a panel to the next: packed by `pack`, panel = 4·W·K (callers blocking K pass the
 *     full stride and a shorter K) and bk = 4·W; a row-major B whose N is a multiple of W is read
 *     in place with panel = 4·W and bk = its row stride. The bias is N floats padded to a multiple
 *     of W (packed as a 1 × N matrix). A[i,k] read at a + i·sai + k·sak (Aᵀ·B: sai = 4,
 *     sak = 4·M, no copy).
 *     Tiles of MR rows × W columns in MR·NR v128 accumulators, one rank-1 update per k from a
 *     contiguous panel row and MR broadcast loads of A. 4 × 8 fits x86's 16 vector registers with
 *     its operands (measured, best of 40 trials: 51 GFLOP/s on 2708×64×64 and 42–44 on the
 *     hypergradient MLP's 200×784×50 and 785×200×50; 3 × 8, 2 × 16 and 3 × 12 are 5–20 % slower,
 *     4 × 12 and 5 × 8 spill and run at half the speed, unrolling k by 2–8 and panel-outer order
 *     gained nothing). The last panel of a ragged N is computed on zero padding and stored lane
 *     by lane; leftover rows take 1-row tiles.
 *     `relaxed` uses f32x4.relaxed_madd (a fused multiply-add where the CPU has one).
 *   csr_rowsum(ptr, col, x, out, rows, D)
 *     out[i,:] = Σ_{e = ptr[i]}^{ptr[i+1]−1} x[col[e], :] (ptr, col int32), the first term copied
 *     and the others added in edge order with float32 rounding, as a segment sum over the edges.
 *   sq_residual(a, b, n, out)
 *     out[0] = Σ (a − b)², out[1] = Σ a², computed and accumulated in float64, stored as float32.
 *   ew_*(inputs..., outputs..., n, scalars...)
 *     Elementwise chains over n floats (`ELEMENTWISE` below: one pass instead of one tfjs op per
 *     arithmetic step), f32x4 over blocks of four and scalar for the tail. Every input is loaded
 *     before any output is stored, so outputs may alias inputs. Plain multiply and add (no fused
 *     multiply-add), in the order written, so a chain rounds as the same tfjs ops would.
 *   colsum(a, out, rows, cols)
 *     out[j] = Σ_i a[i, j], rows added in order.
 *   read_sum(a, bytes, out)
 *     out[0] = Σ a over `bytes` bytes (a multiple of 64), four f32x4 accumulators: a plain
 *     streaming read, the bench's measure of the read bandwidth a kernel can reach.
 *   stream_dot(x, w, out, M, K, N, flags, h, c, mask, clamp)
 *     out[m, j] = x[m, :]·w[j, :] for X [M, K] and W stored [N, K] (X·Wᵀ; the Hopfield step's
 *     s·W_s, W_s symmetric), then, if flags & 1, + h[m, j]·c, then, if flags & 2, × mask[j] +
 *     clamp[m, j] (the step's elementwise tail, rounded as the same tfjs ops). Made for a large W
 *     read once from its row-major storage with few rows of X (a GEMV at M = 1; the Hopfield W_s is
 *     25.6 MiB): each row of W is one contiguous stream summed in four f32x4 accumulators (the loop
 *     of read_sum plus a load of x from cache), the rows of X taken in turn while the row of W is
 *     in L1. Sum order: the accumulators pairwise, then the lanes pairwise, then the K mod 16
 *     leftover products in order; plain multiply and add in both variants. out must not alias x.
 *   softmax_rop(p, pn, rz, out, rows, cols)
 *     The R-operator of softmax cross-entropy's gradient: per row i, c = Σ_j p_ij rz_ij (in order),
 *     out_ij = pn_ij (rz_ij − c).
 */

/** The GRU step's linearisation multipliers from q, r, z, hn, x (n = 2q − 1; see `ew_gru_lin`). */
const GRU_LIN = [
  ['n', ['sub', ['add', 'q', 'q'], 1]],
  ['sr', ['mul', 'r', ['sub', 1, 'r']]],
  ['cn', ['mul', ['sub', 1, 'z'], ['sub', 1, ['mul', 'n', 'n']]]],
  ['cz', ['mul', ['sub', 'x', 'n'], ['mul', 'z', ['sub', 1, 'z']]]],
  ['crn', ['mul', ['mul', 'cn', 'hn'], 'sr']],
  ['cnr', ['mul', 'cn', 'r']],
];

/**
 * The elementwise chains: inputs and outputs are float32 arrays of n elements, scalars f32
 * parameters; `body` lists assignments in order, each to an output (stored) or a temporary.
 * Expressions: an operand's name, a number, or [op, x, y] with op one of + − × (written
 * 'add' 'sub' 'mul').
 * @typedef {string | number | [string, Expr, Expr]} Expr
 * @type {{ name: string, ins: string[], outs: string[], scalars?: string[], body: [string, Expr][] }[]}
 */
export const ELEMENTWISE = [
  // tanh through the logistic function: x = 2σ − 1 and its derivative 1 − x²
  { name: 'ew_tanh_d', ins: ['s'], outs: ['x', 'd'], body: [['x', ['sub', ['mul', 's', 2], 1]], ['d', ['sub', 1, ['mul', 'x', 'x']]]] },
  { name: 'ew_scale', ins: ['a'], outs: ['out'], scalars: ['c'], body: [['out', ['mul', 'a', 'c']]] },
  { name: 'ew_mul', ins: ['a', 'b'], outs: ['out'], body: [['out', ['mul', 'a', 'b']]] },
  // softmax cross-entropy's δ = p/N − y/N
  { name: 'ew_delta', ins: ['p', 'yn'], outs: ['pn', 'delta'], scalars: ['invn'], body: [['pn', ['mul', 'p', 'invn']], ['delta', ['sub', 'pn', 'yn']]] },
  // momentum SGD: m' = β m − (1 − β) g, θ' = θ + α m'
  {
    name: 'ew_momentum',
    ins: ['th', 'm', 'g', 'al', 'be', 'ombe'],
    outs: ['th2', 'm2'],
    body: [['m2', ['sub', ['mul', 'm', 'be'], ['mul', 'g', 'ombe']]], ['th2', ['add', 'th', ['mul', 'm2', 'al']]]],
  },
  // its adjoint's elementwise part: s = α z_θ + z_m, u = (1 − β) s, z_m' = β s
  {
    name: 'ew_adjoint',
    ins: ['zt', 'zm', 'al', 'be', 'ombe'],
    outs: ['u', 'zm2'],
    body: [['s', ['add', ['mul', 'zt', 'al'], 'zm']], ['u', ['mul', 's', 'ombe']], ['zm2', ['mul', 's', 'be']]],
  },
  // the tanh layer's R-backward: Rδ = re ⊙ D − (2 e ⊙ X) ⊙ RX
  { name: 'ew_hvp_rd', ins: ['re', 'd', 'e', 'x', 'rx'], outs: ['out'], body: [['out', ['sub', ['mul', 're', 'd'], ['mul', ['mul', ['mul', 'e', 'x'], 2], 'rx']]]] },
  // The GRU-GNN step's chains (src/experiments/citation-gnn/fused.ts), each in its op path's order.
  // 2 a_n = (a_in + r ⊙ hn) + (a_in + r ⊙ hn), the argument of q = σ(2 a_n)
  { name: 'ew_gru_an2', ins: ['ai', 'r', 'hn'], outs: ['a2'], body: [['an', ['add', 'ai', ['mul', 'r', 'hn']]], ['a2', ['add', 'an', 'an']]] },
  // h' = n + z ⊙ (h − n) with n = tanh a_n = 2q − 1
  { name: 'ew_gru_out', ins: ['q', 'z', 'x'], outs: ['out'], body: [['n', ['sub', ['add', 'q', 'q'], 1]], ['out', ['add', 'n', ['mul', 'z', ['sub', 'x', 'n']]]]] },
  // the linearisation's multipliers: s_r = r(1 − r), c_n = (1 − z)(1 − n²), c_z = (h − n) z(1 − z), c_rn = c_n hn s_r, c_nr = c_n r
  {
    name: 'ew_gru_lin',
    ins: ['q', 'r', 'z', 'hn', 'x'],
    outs: ['sr', 'cn', 'cz', 'crn', 'cnr'],
    body: GRU_LIN,
  },
  // an adjoint g's pieces a = g c_rn, b = g c_z, c = g c_n, d = g c_nr
  { name: 'ew_gru_pieces', ins: ['g', 'crn', 'cz', 'cn', 'cnr'], outs: ['a', 'b', 'c', 'd'], body: [['a', ['mul', 'g', 'crn']], ['b', ['mul', 'g', 'cz']], ['c', ['mul', 'g', 'cn']], ['d', ['mul', 'g', 'cnr']]] },
  // the same pieces from a recorded step's values (ew_gru_lin's multipliers, then ew_gru_pieces, in one pass)
  {
    name: 'ew_gru_pieces_rec',
    ins: ['g', 'q', 'r', 'z', 'hn', 'x'],
    outs: ['a', 'b', 'c', 'd'],
    body: [
      ...GRU_LIN,
      ['a', ['mul', 'g', 'crn']],
      ['b', ['mul', 'g', 'cz']],
      ['c', ['mul', 'g', 'cn']],
      ['d', ['mul', 'g', 'cnr']],
    ],
  },
  // Jᵀg = (g ⊙ z + from_h) + from_m
  { name: 'ew_gru_vjp', ins: ['g', 'z', 'fh', 'fm'], outs: ['out'], body: [['out', ['add', ['add', ['mul', 'g', 'z'], 'fh'], 'fm']]] },
];

/**
 * @param {{ name: string, ins: string[], outs: string[], scalars?: string[], body: [string, Expr][] }} def
 * @returns {string[]}
 */
function elementwiseWat(def) {
  const scalars = def.scalars ?? [];
  const temps = def.body.map(([n]) => n).filter((n) => !def.outs.includes(n));
  const L = [];
  const params = [...def.ins, ...def.outs].map((n) => `(param $${n} i32)`).join(' ') + ' (param $n i32) ' + scalars.map((n) => `(param $${n} f32)`).join(' ');
  L.push(`  (func (export "${def.name}") ${params}`);
  const vars = [...def.ins, ...def.outs, ...temps];
  L.push('    (local $o i32) (local $end4 i32) (local $end i32) ' + vars.map((n) => `(local $v_${n} v128) (local $s_${n} f32)`).join(' '));
  /** @param {'v' | 's'} mode @param {Expr} x @returns {string} */
  const expr = (mode, x) => {
    const t = mode === 'v' ? 'f32x4' : 'f32';
    if (typeof x === 'number') return mode === 'v' ? `(f32x4.splat (f32.const ${x}))` : `(f32.const ${x})`;
    if (typeof x === 'string') {
      if (scalars.includes(x)) return mode === 'v' ? `(f32x4.splat (local.get $${x}))` : `(local.get $${x})`;
      if (!vars.includes(x)) throw new Error(`${def.name}: unknown operand ${x}`);
      return `(local.get $${mode}_${x})`;
    }
    const [op, a, b] = x;
    if (!['add', 'sub', 'mul'].includes(op)) throw new Error(`${def.name}: unknown op ${op}`);
    return `(${t}.${op} ${expr(mode, a)} ${expr(mode, b)})`;
  };
  /** @param {'v' | 's'} mode @param {number} step */
  const loop = (mode, step) => {
    const load = (/** @type {string} */ n) => (mode === 'v' ? `(v128.load align=4 (i32.add (local.get $${n}) (local.get $o)))` : `(f32.load (i32.add (local.get $${n}) (local.get $o)))`);
    const store = (/** @type {string} */ n) =>
      mode === 'v' ? `(v128.store align=4 (i32.add (local.get $${n}) (local.get $o)) (local.get $v_${n}))` : `(f32.store (i32.add (local.get $${n}) (local.get $o)) (local.get $s_${n}))`;
    const end = mode === 'v' ? '$end4' : '$end';
    L.push(`    (block $${mode}d (loop $${mode}l`);
    L.push(`      (br_if $${mode}d (i32.ge_u (local.get $o) (local.get ${end})))`);
    for (const n of def.ins) L.push(`      (local.set $${mode}_${n} ${load(n)})`);
    for (const [n, x] of def.body) L.push(`      (local.set $${mode}_${n} ${expr(mode, x)})`);
    for (const n of def.outs) L.push(`      ${store(n)}`);
    L.push(`      (local.set $o (i32.add (local.get $o) (i32.const ${step})))`);
    L.push(`      (br $${mode}l)))`);
  };
  L.push('    (local.set $end (i32.shl (local.get $n) (i32.const 2)))');
  L.push('    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))');
  L.push('    (local.set $o (i32.const 0))');
  loop('v', 16);
  loop('s', 4);
  L.push('  )');
  return L;
}

/**
 * The text of `stream_dot` (the header says what it computes): its own block, apart from the GEMM's.
 * @returns {string[]}
 */
function streamDotWat() {
  /** @type {string[]} */
  const L = [];
  const e = (/** @type {string} */ s) => L.push(s);
  const V = 4; // f32x4 accumulators per row of W, 64 bytes a step as read_sum (8 measured 20–25 % slower: spills)
  const vs = Array.from({ length: V }, (_, v) => v);
  e('  (func (export "stream_dot") (param $x i32) (param $w i32) (param $out i32) (param $M i32) (param $K i32) (param $N i32)');
  e('        (param $flags i32) (param $h i32) (param $c f32) (param $mask i32) (param $clamp i32)');
  e('    (local $j i32) (local $m i32) (local $k i32) (local $row i32) (local $kv i32) (local $pw i32) (local $px i32) (local $o i32) (local $s f32)');
  e('    ' + vs.map((v) => `(local $a${v} v128)`).join(' '));
  e('    (local.set $row (i32.shl (local.get $K) (i32.const 2)))');
  e(`    (local.set $kv (i32.and (local.get $row) (i32.const ${-16 * V})))`);
  e('    (local.set $pw (local.get $w))');
  e('    (local.set $j (i32.const 0))');
  e('    (block $jd (loop $jl');
  e('      (br_if $jd (i32.ge_s (local.get $j) (local.get $N)))');
  e('      (local.set $px (local.get $x))');
  e('      (local.set $m (i32.const 0))');
  e('      (block $md (loop $ml');
  e('        (br_if $md (i32.ge_s (local.get $m) (local.get $M)))');
  for (const v of vs) e(`        (local.set $a${v} (v128.const i32x4 0 0 0 0))`);
  e('        (local.set $k (i32.const 0))');
  e('        (block $vd (loop $vl');
  e('          (br_if $vd (i32.ge_u (local.get $k) (local.get $kv)))');
  for (const v of vs) {
    const at = (/** @type {string} */ p) => `(v128.load offset=${16 * v} align=4 (i32.add (local.get ${p}) (local.get $k)))`;
    e(`          (local.set $a${v} (f32x4.add (local.get $a${v}) (f32x4.mul ${at('$px')} ${at('$pw')})))`);
  }
  e(`          (local.set $k (i32.add (local.get $k) (i32.const ${16 * V})))`);
  e('          (br $vl)))');
  for (let span = 1; span < V; span *= 2) for (let v = 0; v + span < V; v += 2 * span) e(`        (local.set $a${v} (f32x4.add (local.get $a${v}) (local.get $a${v + span})))`);
  e('        (local.set $s (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0))) (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))');
  e('        (block $sd (loop $sl');
  e('          (br_if $sd (i32.ge_u (local.get $k) (local.get $row)))');
  e('          (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (i32.add (local.get $px) (local.get $k))) (f32.load (i32.add (local.get $pw) (local.get $k))))))');
  e('          (local.set $k (i32.add (local.get $k) (i32.const 4)))');
  e('          (br $sl)))');
  // the element's offset in out, h and clamp ([M, N])
  e('        (local.set $o (i32.shl (i32.add (i32.mul (local.get $m) (local.get $N)) (local.get $j)) (i32.const 2)))');
  e('        (if (i32.and (local.get $flags) (i32.const 1)) (then');
  e('          (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (i32.add (local.get $h) (local.get $o))) (local.get $c))))))');
  e('        (if (i32.and (local.get $flags) (i32.const 2)) (then');
  e('          (local.set $s (f32.add (f32.mul (local.get $s) (f32.load (i32.add (local.get $mask) (i32.shl (local.get $j) (i32.const 2))))) (f32.load (i32.add (local.get $clamp) (local.get $o)))))))');
  e('        (f32.store (i32.add (local.get $out) (local.get $o)) (local.get $s))');
  e('        (local.set $px (i32.add (local.get $px) (local.get $row)))');
  e('        (local.set $m (i32.add (local.get $m) (i32.const 1)))');
  e('        (br $ml)))');
  e('      (local.set $pw (i32.add (local.get $pw) (local.get $row)))');
  e('      (local.set $j (i32.add (local.get $j) (i32.const 1)))');
  e('      (br $jl)))');
  e('  )');
  return L;
}

/** The GEMM's register tile: MR rows of A × NR f32x4 columns of B (`PANEL` = 4·NR in ./gemm.ts). */
const MR = 4;
const NR = 2;

/**
 * The module's text. `shared`: the memory import is a shared memory (tfjs's threaded build, whose
 * heap is a SharedArrayBuffer, and the kernel pool's workers: ./pool.ts); the code is the same.
 * @param {{ relaxed?: boolean, shared?: boolean }} [opts]
 * @returns {string}
 */
export function kernelsWat({ relaxed = false, shared = false } = {}) {
  const W = 4 * NR;
  /** @type {string[]} */
  const L = [];
  /** @param {string} s */
  const e = (s) => L.push(s);
  /** acc += x * y on f32x4 locals @param {string} acc @param {string} x @param {string} y */
  const madd = (acc, x, y) =>
    relaxed
      ? `(local.set ${acc} (f32x4.relaxed_madd (local.get ${x}) (local.get ${y}) (local.get ${acc})))`
      : `(local.set ${acc} (f32x4.add (local.get ${acc}) (f32x4.mul (local.get ${x}) (local.get ${y}))))`;
  const get = (/** @type {string} */ x) => `(local.get ${x})`;
  /** acc += x * (an f32x4 expression), as `madd` @param {string} acc @param {string} x @param {string} y */
  const maddLoad = (acc, x, y) =>
    relaxed ? `(local.set ${acc} (f32x4.relaxed_madd (local.get ${x}) ${y} (local.get ${acc})))` : `(local.set ${acc} (f32x4.add (local.get ${acc}) (f32x4.mul (local.get ${x}) ${y})))`;

  e('(module');
  // a shared memory import must declare its maximum: 4 GiB, tfjs's threaded heap's
  e(shared ? '  (import "env" "memory" (memory 1 65536 shared))' : '  (import "env" "memory" (memory 1))');

  // ---- pack ----
  e('  (func (export "pack") (param $src i32) (param $dst i32) (param $K i32) (param $N i32) (param $sk i32) (param $sn i32)');
  e('    (local $p i32) (local $k i32) (local $l i32) (local $n i32) (local $o i32)');
  e('    (local.set $o (local.get $dst))');
  e('    (local.set $p (i32.const 0))');
  e('    (block $pd (loop $pl');
  e('      (br_if $pd (i32.ge_s (local.get $p) (local.get $N)))');
  e('      (local.set $k (i32.const 0))');
  e('      (block $kd (loop $kl');
  e('        (br_if $kd (i32.ge_s (local.get $k) (local.get $K)))');
  e('        (local.set $l (i32.const 0))');
  e('        (block $ld (loop $ll');
  e(`          (br_if $ld (i32.ge_s (local.get $l) (i32.const ${W})))`);
  e('          (local.set $n (i32.add (local.get $p) (local.get $l)))');
  e('          (f32.store (local.get $o) (if (result f32) (i32.lt_s (local.get $n) (local.get $N))');
  e('            (then (f32.load (i32.add (local.get $src) (i32.add (i32.mul (local.get $k) (local.get $sk)) (i32.mul (local.get $n) (local.get $sn))))))');
  e('            (else (f32.const 0))))');
  e('          (local.set $o (i32.add (local.get $o) (i32.const 4)))');
  e('          (local.set $l (i32.add (local.get $l) (i32.const 1)))');
  e('          (br $ll)))');
  e('        (local.set $k (i32.add (local.get $k) (i32.const 1)))');
  e('        (br $kl)))');
  e(`      (local.set $p (i32.add (local.get $p) (i32.const ${W})))`);
  e('      (br $pl)))');
  e('  )');

  // ---- gemm ----
  e('  (func (export "gemm") (param $a i32) (param $bp i32) (param $c i32) (param $biasp i32)');
  e('        (param $M i32) (param $K i32) (param $N i32) (param $sai i32) (param $sak i32) (param $flags i32) (param $panel i32) (param $bk i32) (param $ldc i32)');
  e('    (local $i i32) (local $j i32) (local $k i32) (local $pb i32) (local $pc i32) (local $rem i32)');
  for (let r = 0; r < MR; r++) e(`    (local $pa${r} i32) (local $av${r} v128)`);
  for (let v = 0; v < NR; v++) e(`    (local $bv${v} v128)`);
  for (let r = 0; r < MR; r++) for (let v = 0; v < NR; v++) e(`    (local $c${r}_${v} v128)`);

  /** @param {number} mr */
  const tile = (mr) => {
    for (let r = 0; r < mr; r++) {
      e(`      (local.set $pa${r} (i32.add (local.get $a) (i32.mul (i32.add (local.get $i) (i32.const ${r})) (local.get $sai))))`);
      for (let v = 0; v < NR; v++) e(`      (local.set $c${r}_${v} (v128.const i32x4 0 0 0 0))`);
    }
    e(`      (local.set $pb (i32.add (local.get $bp) (i32.mul (i32.div_u (local.get $j) (i32.const ${W})) (local.get $panel))))`);
    e('      (local.set $k (local.get $K))');
    e('      (if (i32.gt_s (local.get $k) (i32.const 0)) (then (loop $kl');
    for (let v = 0; v < NR; v++) e(`        (local.set $bv${v} (v128.load offset=${16 * v} (local.get $pb)))`);
    for (let r = 0; r < mr; r++) {
      e(`        (local.set $av${r} (v128.load32_splat align=4 (local.get $pa${r})))`);
      for (let v = 0; v < NR; v++) e('        ' + madd(`$c${r}_${v}`, `$av${r}`, `$bv${v}`));
      e(`        (local.set $pa${r} (i32.add (local.get $pa${r}) (local.get $sak)))`);
    }
    e('        (local.set $pb (i32.add (local.get $pb) (local.get $bk)))');
    e('        (local.set $k (i32.sub (local.get $k) (i32.const 1)))');
    e('        (br_if $kl (i32.gt_s (local.get $k) (i32.const 0))))))');
    // bias (packed: the panel of a 1 × N matrix is W floats)
    e('      (if (i32.and (local.get $flags) (i32.const 1)) (then');
    for (let v = 0; v < NR; v++) {
      e(`        (local.set $bv${v} (v128.load offset=${16 * v} (i32.add (local.get $biasp) (i32.shl (local.get $j) (i32.const 2)))))`);
      for (let r = 0; r < mr; r++) e(`        (local.set $c${r}_${v} (f32x4.add (local.get $c${r}_${v}) (local.get $bv${v})))`);
    }
    e('      ))');
    e('      (local.set $rem (i32.sub (local.get $N) (local.get $j)))');
    for (let r = 0; r < mr; r++) {
      e(`      (local.set $pc (i32.add (i32.add (local.get $c) (i32.mul (i32.add (local.get $i) (i32.const ${r})) (local.get $ldc))) (i32.shl (local.get $j) (i32.const 2))))`);
      e(`      (if (i32.ge_s (local.get $rem) (i32.const ${W})) (then`);
      for (let v = 0; v < NR; v++) {
        const acc = `$c${r}_${v}`;
        e(`        (if (i32.and (local.get $flags) (i32.const 2)) (then (local.set ${acc} (f32x4.add (local.get ${acc}) (v128.load offset=${16 * v} align=4 (local.get $pc))))))`);
        e(`        (v128.store offset=${16 * v} align=4 (local.get $pc) (local.get ${acc}))`);
      }
      e('      ) (else');
      for (let col = 0; col < W - 1; col++) {
        const lane = `(f32x4.extract_lane ${col & 3} (local.get $c${r}_${col >> 2}))`;
        const value = `(if (result f32) (i32.and (local.get $flags) (i32.const 2)) (then (f32.add ${lane} (f32.load offset=${4 * col} (local.get $pc)))) (else ${lane}))`;
        e(`        (if (i32.gt_s (local.get $rem) (i32.const ${col})) (then (f32.store offset=${4 * col} (local.get $pc) ${value})))`);
      }
      e('      ))');
    }
  };
  e('    (local.set $i (i32.const 0))');
  for (const mr of MR > 1 ? [MR, 1] : [1]) {
    e(`    (block $rd${mr} (loop $rl${mr}`);
    e(`      (br_if $rd${mr} (i32.gt_s (i32.add (local.get $i) (i32.const ${mr})) (local.get $M)))`);
    e('      (local.set $j (i32.const 0))');
    e(`      (block $cd${mr} (loop $cl${mr}`);
    e(`        (br_if $cd${mr} (i32.ge_s (local.get $j) (local.get $N)))`);
    tile(mr);
    e(`        (local.set $j (i32.add (local.get $j) (i32.const ${W})))`);
    e(`        (br $cl${mr})))`);
    e(`      (local.set $i (i32.add (local.get $i) (i32.const ${mr})))`);
    e(`      (br $rl${mr})))`);
  }
  e('  )');

  // ---- csr_rowsum ----
  e('  (func (export "csr_rowsum") (param $ptr i32) (param $col i32) (param $x i32) (param $out i32) (param $rows i32) (param $D i32)');
  e('    (local $i i32) (local $e i32) (local $end i32) (local $o i32) (local $s i32) (local $d i32) (local $row i32) (local $D4 i32)');
  e('    (local.set $row (i32.shl (local.get $D) (i32.const 2)))');
  e('    (local.set $D4 (i32.and (local.get $D) (i32.const -4)))');
  e('    (local.set $i (i32.const 0))');
  e('    (block $id (loop $il');
  e('      (br_if $id (i32.ge_s (local.get $i) (local.get $rows)))');
  e('      (local.set $o (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $row))))');
  e('      (local.set $e (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))))');
  e('      (local.set $end (i32.load offset=4 (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))))');
  e('      (if (i32.ge_s (local.get $e) (local.get $end))');
  e('        (then (memory.fill (local.get $o) (i32.const 0) (local.get $row)))');
  e('        (else');
  e('          (memory.copy (local.get $o) (i32.add (local.get $x) (i32.mul (i32.load (i32.add (local.get $col) (i32.shl (local.get $e) (i32.const 2)))) (local.get $row))) (local.get $row))');
  e('          (local.set $e (i32.add (local.get $e) (i32.const 1)))');
  e('          (block $ed (loop $el');
  e('            (br_if $ed (i32.ge_s (local.get $e) (local.get $end)))');
  e('            (local.set $s (i32.add (local.get $x) (i32.mul (i32.load (i32.add (local.get $col) (i32.shl (local.get $e) (i32.const 2)))) (local.get $row))))');
  e('            (local.set $d (i32.const 0))');
  e('            (block $vd (loop $vl');
  e('              (br_if $vd (i32.ge_s (local.get $d) (local.get $D4)))');
  e('              (v128.store align=4 (i32.add (local.get $o) (i32.shl (local.get $d) (i32.const 2)))');
  e('                (f32x4.add (v128.load align=4 (i32.add (local.get $o) (i32.shl (local.get $d) (i32.const 2))))');
  e('                           (v128.load align=4 (i32.add (local.get $s) (i32.shl (local.get $d) (i32.const 2))))))');
  e('              (local.set $d (i32.add (local.get $d) (i32.const 4)))');
  e('              (br $vl)))');
  e('            (block $sd (loop $sl');
  e('              (br_if $sd (i32.ge_s (local.get $d) (local.get $D)))');
  e('              (f32.store (i32.add (local.get $o) (i32.shl (local.get $d) (i32.const 2)))');
  e('                (f32.add (f32.load (i32.add (local.get $o) (i32.shl (local.get $d) (i32.const 2))))');
  e('                         (f32.load (i32.add (local.get $s) (i32.shl (local.get $d) (i32.const 2))))))');
  e('              (local.set $d (i32.add (local.get $d) (i32.const 1)))');
  e('              (br $sl)))');
  e('            (local.set $e (i32.add (local.get $e) (i32.const 1)))');
  e('            (br $el)))))');
  e('      (local.set $i (i32.add (local.get $i) (i32.const 1)))');
  e('      (br $il)))');
  e('  )');

  // ---- sq_residual ----
  e('  (func (export "sq_residual") (param $a i32) (param $b i32) (param $n i32) (param $out i32)');
  e('    (local $i i32) (local $n4 i32) (local $va v128) (local $vb v128) (local $lo v128) (local $d v128) (local $dd v128) (local $aa v128) (local $x f64) (local $y f64) (local $sd f64) (local $sa f64)');
  e('    (local.set $dd (v128.const i32x4 0 0 0 0)) (local.set $aa (v128.const i32x4 0 0 0 0))');
  e('    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))');
  e('    (local.set $i (i32.const 0))');
  e('    (block $vd (loop $vl');
  e('      (br_if $vd (i32.ge_s (local.get $i) (local.get $n4)))');
  e('      (local.set $va (v128.load align=4 (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2)))))');
  e('      (local.set $vb (v128.load align=4 (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2)))))');
  for (const half of ['low', 'high']) {
    const pick = (/** @type {string} */ v) =>
      half === 'low' ? `(f64x2.promote_low_f32x4 ${get(v)})` : `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 ${get(v)} ${get(v)}))`;
    e(`      (local.set $lo ${pick('$va')})`);
    e(`      (local.set $d (f64x2.sub (local.get $lo) ${pick('$vb')}))`);
    e('      (local.set $dd (f64x2.add (local.get $dd) (f64x2.mul (local.get $d) (local.get $d))))');
    e('      (local.set $aa (f64x2.add (local.get $aa) (f64x2.mul (local.get $lo) (local.get $lo))))');
  }
  e('      (local.set $i (i32.add (local.get $i) (i32.const 4)))');
  e('      (br $vl)))');
  e('    (local.set $sd (f64.add (f64x2.extract_lane 0 (local.get $dd)) (f64x2.extract_lane 1 (local.get $dd))))');
  e('    (local.set $sa (f64.add (f64x2.extract_lane 0 (local.get $aa)) (f64x2.extract_lane 1 (local.get $aa))))');
  e('    (block $sd_ (loop $sl');
  e('      (br_if $sd_ (i32.ge_s (local.get $i) (local.get $n)))');
  e('      (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))');
  e('      (local.set $y (f64.sub (local.get $x) (f64.promote_f32 (f32.load (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2)))))))');
  e('      (local.set $sd (f64.add (local.get $sd) (f64.mul (local.get $y) (local.get $y))))');
  e('      (local.set $sa (f64.add (local.get $sa) (f64.mul (local.get $x) (local.get $x))))');
  e('      (local.set $i (i32.add (local.get $i) (i32.const 1)))');
  e('      (br $sl)))');
  e('    (f32.store (local.get $out) (f32.demote_f64 (local.get $sd)))');
  e('    (f32.store offset=4 (local.get $out) (f32.demote_f64 (local.get $sa)))');
  e('  )');

  // ---- colsum ----
  e('  (func (export "colsum") (param $a i32) (param $out i32) (param $rows i32) (param $cols i32)');
  e('    (local $i i32) (local $j i32) (local $row i32) (local $c4 i32) (local $p i32)');
  e('    (local.set $row (i32.shl (local.get $cols) (i32.const 2)))');
  e('    (local.set $c4 (i32.and (local.get $row) (i32.const -16)))');
  e('    (memory.fill (local.get $out) (i32.const 0) (local.get $row))');
  e('    (local.set $i (i32.const 0))');
  e('    (block $id (loop $il');
  e('      (br_if $id (i32.ge_s (local.get $i) (local.get $rows)))');
  e('      (local.set $p (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $row))))');
  e('      (local.set $j (i32.const 0))');
  e('      (block $vd (loop $vl');
  e('        (br_if $vd (i32.ge_u (local.get $j) (local.get $c4)))');
  e('        (v128.store align=4 (i32.add (local.get $out) (local.get $j))');
  e('          (f32x4.add (v128.load align=4 (i32.add (local.get $out) (local.get $j))) (v128.load align=4 (i32.add (local.get $p) (local.get $j)))))');
  e('        (local.set $j (i32.add (local.get $j) (i32.const 16)))');
  e('        (br $vl)))');
  e('      (block $sd (loop $sl');
  e('        (br_if $sd (i32.ge_u (local.get $j) (local.get $row)))');
  e('        (f32.store (i32.add (local.get $out) (local.get $j))');
  e('          (f32.add (f32.load (i32.add (local.get $out) (local.get $j))) (f32.load (i32.add (local.get $p) (local.get $j)))))');
  e('        (local.set $j (i32.add (local.get $j) (i32.const 4)))');
  e('        (br $sl)))');
  e('      (local.set $i (i32.add (local.get $i) (i32.const 1)))');
  e('      (br $il)))');
  e('  )');

  // ---- read_sum ----
  e('  (func (export "read_sum") (param $a i32) (param $bytes i32) (param $out i32)');
  e('    (local $p i32) (local $end i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)');
  e('    (local.set $p (local.get $a)) (local.set $end (i32.add (local.get $a) (local.get $bytes)))');
  e('    (block $d (loop $l');
  e('      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))');
  e('      (local.set $s0 (f32x4.add (local.get $s0) (v128.load align=4 (local.get $p))))');
  e('      (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 align=4 (local.get $p))))');
  e('      (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 align=4 (local.get $p))))');
  e('      (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 align=4 (local.get $p))))');
  e('      (local.set $p (i32.add (local.get $p) (i32.const 64)))');
  e('      (br $l)))');
  e('    (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))');
  e('    (f32.store (local.get $out) (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0))) (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))');
  e('  )');

  // ---- stream_dot ----
  L.push(...streamDotWat());

  // ---- softmax_rop ----
  e('  (func (export "softmax_rop") (param $p i32) (param $pn i32) (param $rz i32) (param $out i32) (param $rows i32) (param $cols i32)');
  e('    (local $i i32) (local $j i32) (local $o i32) (local $c f32) (local $row i32)');
  e('    (local.set $row (i32.shl (local.get $cols) (i32.const 2)))');
  e('    (local.set $i (i32.const 0))');
  e('    (block $id (loop $il');
  e('      (br_if $id (i32.ge_s (local.get $i) (local.get $rows)))');
  e('      (local.set $o (i32.mul (local.get $i) (local.get $row)))');
  e('      (local.set $c (f32.const 0))');
  e('      (local.set $j (i32.const 0))');
  e('      (block $ad (loop $al');
  e('        (br_if $ad (i32.ge_u (local.get $j) (local.get $row)))');
  e('        (local.set $c (f32.add (local.get $c) (f32.mul (f32.load (i32.add (local.get $p) (i32.add (local.get $o) (local.get $j)))) (f32.load (i32.add (local.get $rz) (i32.add (local.get $o) (local.get $j)))))))');
  e('        (local.set $j (i32.add (local.get $j) (i32.const 4)))');
  e('        (br $al)))');
  e('      (local.set $j (i32.const 0))');
  e('      (block $bd (loop $bl');
  e('        (br_if $bd (i32.ge_u (local.get $j) (local.get $row)))');
  e('        (f32.store (i32.add (local.get $out) (i32.add (local.get $o) (local.get $j)))');
  e('          (f32.mul (f32.load (i32.add (local.get $pn) (i32.add (local.get $o) (local.get $j))))');
  e('                   (f32.sub (f32.load (i32.add (local.get $rz) (i32.add (local.get $o) (local.get $j)))) (local.get $c))))');
  e('        (local.set $j (i32.add (local.get $j) (i32.const 4)))');
  e('        (br $bl)))');
  e('      (local.set $i (i32.add (local.get $i) (i32.const 1)))');
  e('      (br $il)))');
  e('  )');

  // ---- csr_mm ----
  // csr_mm(ptr, col, val, b, sbk, out, rows, N, bias, flags)
  //   out[i, :] = Σ_{e = ptr[i]}^{ptr[i+1]−1} val[e] · B[col[e], :] (+ bias[:] if flags & 1)
  //   (+ out[i, :] if flags & 2), out row-major [rows, N], B's row k at b + k·sbk (contiguous N
  //   floats), bias unpacked (N floats); ptr, col int32. A sparse-times-dense product: each
  //   nonzero is one broadcast multiply-add into a row of accumulators. A pass over a row's
  //   nonzeros fills 16 columns (four f32x4 registers; wider spills and was slower) while more
  //   than 19 are left; one last pass takes the rest, up to 4 f32x4 columns plus, when N mod 4 ≠ 0,
  //   the f32x4 window ending at column N, whose lanes already done are not stored (the MLP's 50
  //   columns: three passes); N < 4: one column at a time. Each output is summed in the order of
  //   the nonzeros (`relaxed`: fused multiply-add, as gemm). An empty row gives zeros (plus bias /
  //   out). Measured on the MNIST inputs (10,000 × 784, 19 % nonzero): bench/README.md, "Sparse inputs".
  e('  (func (export "csr_mm") (param $ptr i32) (param $col i32) (param $val i32) (param $b i32) (param $sbk i32)');
  e('        (param $out i32) (param $rows i32) (param $N i32) (param $bias i32) (param $flags i32)');
  e('    (local $i i32) (local $e i32) (local $e0 i32) (local $end i32) (local $o i32) (local $j i32) (local $w0 i32) (local $s i32) (local $r i32) (local $c i32) (local $sf f32) (local $v v128) (local $aw v128)');
  for (let q = 0; q < 4; q++) e(`    (local $a${q} v128)`);
  const colAddr = (/** @type {string} */ base, /** @type {string} */ jj) => `(i32.add (local.get ${base}) (i32.shl (local.get ${jj}) (i32.const 2)))`;
  /** acc_q += val[e] · B[col[e], j + 4q ...] over the row's nonzeros for w f32x4 accumulators, and the window at column w0 (`win`); w = −1: one scalar column j. */
  const csrSum = (/** @type {number} */ w, /** @type {boolean} */ win, /** @type {string} */ tag) => {
    if (w < 0) e('        (local.set $sf (f32.const 0))');
    for (let q = 0; q < w; q++) e(`        (local.set $a${q} (v128.const i32x4 0 0 0 0))`);
    if (win) e('        (local.set $aw (v128.const i32x4 0 0 0 0))');
    e('        (local.set $e (local.get $e0))');
    e(`        (block $ed${tag} (loop $el${tag}`);
    e(`          (br_if $ed${tag} (i32.ge_s (local.get $e) (local.get $end)))`);
    e(`          (local.set $s (i32.add (local.get $b) (i32.mul (i32.load ${colAddr('$col', '$e')}) (local.get $sbk))))`);
    if (w < 0) {
      e(`          (local.set $sf (f32.add (local.get $sf) (f32.mul (f32.load ${colAddr('$val', '$e')}) (f32.load ${colAddr('$s', '$j')}))))`);
    } else {
      e(`          (local.set $v (v128.load32_splat align=4 ${colAddr('$val', '$e')}))`);
      if (win) e('          ' + maddLoad('$aw', '$v', `(v128.load align=4 ${colAddr('$s', '$w0')})`));
      if (w > 0) e(`          (local.set $s ${colAddr('$s', '$j')})`);
      for (let q = 0; q < w; q++) e('          ' + maddLoad(`$a${q}`, '$v', `(v128.load offset=${16 * q} align=4 (local.get $s))`));
    }
    e('          (local.set $e (i32.add (local.get $e) (i32.const 1)))');
    e(`          (br $el${tag})))`);
  };
  /** Store w f32x4 accumulators at column j (plus bias and out as the flags say). */
  const csrStore = (/** @type {number} */ w) => {
    for (let q = 0; q < w; q++) {
      e(`        (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $a${q} (f32x4.add (local.get $a${q}) (v128.load offset=${16 * q} align=4 ${colAddr('$bias', '$j')})))))`);
      e(`        (if (i32.and (local.get $flags) (i32.const 2)) (then (local.set $a${q} (f32x4.add (local.get $a${q}) (v128.load offset=${16 * q} align=4 ${colAddr('$o', '$j')})))))`);
      e(`        (v128.store offset=${16 * q} align=4 ${colAddr('$o', '$j')} (local.get $a${q}))`);
    }
  };
  /** One scalar value `x` stored at column $c (plus bias and out as the flags say). */
  const csrStore1 = (/** @type {string} */ x) => {
    e(`        (local.set $sf ${x})`);
    e(`        (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $sf (f32.add (local.get $sf) (f32.load ${colAddr('$bias', '$c')})))))`);
    e(`        (if (i32.and (local.get $flags) (i32.const 2)) (then (local.set $sf (f32.add (local.get $sf) (f32.load ${colAddr('$o', '$c')})))))`);
    e(`        (f32.store ${colAddr('$o', '$c')} (local.get $sf))`);
  };
  e('    (local.set $i (i32.const 0))');
  e('    (block $id (loop $il');
  e('      (br_if $id (i32.ge_s (local.get $i) (local.get $rows)))');
  e(`      (local.set $e0 (i32.load ${colAddr('$ptr', '$i')}))`);
  e(`      (local.set $end (i32.load offset=4 ${colAddr('$ptr', '$i')}))`);
  e('      (local.set $o (i32.add (local.get $out) (i32.shl (i32.mul (local.get $i) (local.get $N)) (i32.const 2))))');
  e('      (local.set $j (i32.const 0))');
  e('      (block $bd (loop $bl');
  e('        (br_if $bd (i32.gt_s (i32.add (local.get $j) (i32.const 20)) (local.get $N)))');
  csrSum(4, false, 'm');
  csrStore(4);
  e('        (local.set $j (i32.add (local.get $j) (i32.const 16)))');
  e('        (br $bl)))');
  // the last 0–19 columns: r = N − j = 4·w + t, case 2w + (t ≠ 0)
  e('      (local.set $r (i32.sub (local.get $N) (local.get $j)))');
  e('      (local.set $w0 (i32.sub (local.get $N) (i32.const 4)))');
  e('      (if (i32.and (i32.lt_s (local.get $N) (i32.const 4)) (i32.gt_s (local.get $r) (i32.const 0))) (then');
  e('        (local.set $c (local.get $j))');
  e('        (block $sd (loop $sl');
  e('        (br_if $sd (i32.ge_s (local.get $j) (local.get $N)))');
  csrSum(-1, false, 's');
  e('        (local.set $c (local.get $j))');
  csrStore1('(local.get $sf)');
  e('        (local.set $j (i32.add (local.get $j) (i32.const 1)))');
  e('        (br $sl)))');
  e('      ) (else');
  e('      (local.set $r (i32.add (i32.shl (i32.shr_u (local.get $r) (i32.const 2)) (i32.const 1)) (i32.ne (i32.and (local.get $r) (i32.const 3)) (i32.const 0))))');
  for (let w = 0; w <= 4; w++) {
    for (const win of [false, true]) {
      if (w === 0 && !win) continue;
      e(`      (if (i32.eq (local.get $r) (i32.const ${2 * w + (win ? 1 : 0)})) (then`);
      csrSum(w, win, `${w}${win ? 'w' : ''}`);
      csrStore(w);
      if (win) {
        for (let l = 1; l < 4; l++) {
          e(`        (local.set $c (i32.add (local.get $w0) (i32.const ${l})))`);
          e(`        (if (i32.ge_s (local.get $c) (i32.add (local.get $j) (i32.const ${4 * w}))) (then`);
          csrStore1(`(f32x4.extract_lane ${l} (local.get $aw))`);
          e('        ))');
        }
      }
      e('      ))');
    }
  }
  e('      ))');
  e('      (local.set $i (i32.add (local.get $i) (i32.const 1)))');
  e('      (br $il)))');
  e('  )');

  for (const def of ELEMENTWISE) L.push(...elementwiseWat(def));
  e(')');
  return L.join('\n');
}
