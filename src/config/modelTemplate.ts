/**
 * The "your own model" template: a working model module (a deep-equilibrium layer on two moons),
 * its config and the model-facing types, written into a folder of the user's by `rbp init-model DIR`
 * and the palette's "RBP Lab: New Model from Template". Files only, no TensorFlow.js.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Where each file comes from (relative to RBP Lab's package root) and its name in the user's folder. */
export const TEMPLATE_FILES = [
  { from: 'templates/deq-two-moons/deq_two_moons.mjs', to: 'deq_two_moons.mjs' },
  { from: 'templates/deq-two-moons/deq_two_moons.rbp.yaml', to: 'deq_two_moons.rbp.yaml' },
  { from: 'dist/types/model.d.ts', to: 'rbp-model.d.ts' },
] as const;

export class TemplateError extends Error {}

/** Write the template into `dir` (created if needed); never overwrites a file. Returns the config's path and every file written. */
export function writeModelTemplate(dir: string, packageRoot: string): { config: string; files: string[] } {
  const targets = TEMPLATE_FILES.map((f) => ({ src: path.join(packageRoot, f.from), dst: path.resolve(dir, f.to) }));
  const existing = targets.filter((t) => fs.existsSync(t.dst)).map((t) => t.dst);
  if (existing.length) throw new TemplateError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; not overwriting (choose another folder)`);
  for (const t of targets) if (!fs.existsSync(t.src)) throw new TemplateError(`the template file ${t.src} is missing from this installation of RBP Lab`);
  try {
    fs.mkdirSync(path.resolve(dir), { recursive: true });
    for (const t of targets) fs.copyFileSync(t.src, t.dst, fs.constants.COPYFILE_EXCL);
  } catch (err) {
    throw new TemplateError(`cannot write the template into ${path.resolve(dir)}: ${(err as Error).message}`);
  }
  return { config: targets[1].dst, files: targets.map((t) => t.dst) };
}
