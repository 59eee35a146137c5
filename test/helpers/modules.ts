/** Model modules for the ModuleRunner tests: a tiny valid one, and the same broken on purpose. */
import * as fs from 'fs';
import * as path from 'path';

/** A tiny valid model module; the PATCH comment marks where a test breaks it. */
export const TINY = `export default function ({ tf, rbp, context }) {
  const W0 = tf.tensor2d(context.rng.normalArray(16, 0.3), [4, 4]);
  const W = tf.variable(W0);
  W0.dispose();
  const x = tf.ones([2, 4]);
  let calls = 0;
  const system = {
    name: 'tiny',
    params: [W],
    lossParams: [],
    initialState: () => [tf.zeros([2, 4])],
    step: (h, w) => tf.tidy(() => [rbp.activations.tanh(tf.add(tf.matMul(h[0], w[0]), x))]),
    loss: (h) => tf.tidy(() => tf.mean(tf.square(h[0]))),
  };
  const model = { system, dispose: () => tf.dispose([W, x]) };
  /*PATCH*/
  return model;
}
`;
/** Line of the patch in TINY (1-based). */
export const PATCH_LINE = TINY.split('\n').findIndex((l) => l.includes('/*PATCH*/')) + 1;

/** A module (TINY with `patch` in place of the PATCH comment, or `source`) and its config; returns the config's path and the module's. */
export function writeBadModule(root: string, name: string, opts: { patch?: string; source?: string; module?: string | null; steps?: number }): { config: string; file: string } {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.mjs');
  fs.writeFileSync(file, opts.source ?? TINY.replace('/*PATCH*/', opts.patch ?? ''));
  const config = path.join(dir, 'model.rbp.yaml');
  const mod = opts.module === undefined ? './model.mjs' : opts.module;
  fs.writeFileSync(config, `exp_name: ${name}\nrunner: ModuleRunner\nmodel:\n${mod === null ? '' : `  module: ${mod}\n`}  num_update: 10\ntrain:\n  max_steps: ${opts.steps ?? 3}\n`);
  return { config, file };
}

