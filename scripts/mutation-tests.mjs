// The test command of the mutation run (`npm run mutation`, stryker.config.json): the suites that
// exercise src/core/gradients and src/core/solvers, one after another, fastest killers first,
// stopping at the first failure (a killed mutant costs one or two suites, not all six).
// Stryker switches mutants at run time (__STRYKER_ACTIVE_MUTANT__ in the environment) in sources it
// instrumented once, so the bundles are built by the initial run (no active mutant) and reused.
// Each bundle runs in one process (node file.test.js: no test-runner child to outlive a kill), with a
// time limit of about ten times its unloaded time: a mutant that makes a loop endless fails there.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Suite → time limit in seconds (unloaded: 0.7, 1.7, 1.2, 3.4, 1.5, 2.7 and 5.3 s). */
const SUITES = { 'core/solvers': 15, 'core/gradients': 20, 'core/exact': 15, 'core/cg-stop': 30, 'core/traces': 20, 'core/rbp': 25, 'core/memory': 45 };
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bundle = (s) => path.join(root, 'out', 'test', `${s}.test.js`);
const names = Object.keys(SUITES);
try {
  if (!process.env.__STRYKER_ACTIVE_MUTANT__ || !names.every((s) => fs.existsSync(bundle(s)))) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build-tests.mjs'), ...names], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  for (const [s, limit] of Object.entries(SUITES)) {
    try {
      execFileSync(process.execPath, [bundle(s)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], timeout: limit * 1000, killSignal: 'SIGKILL' });
    } catch (e) {
      if (e.signal === 'SIGKILL') console.error(`mutation-tests: ${s} did not finish in ${limit} s`);
      throw e;
    }
  }
} catch {
  process.exit(1);
}
