/** Experiment registry: each entry of `./catalog.ts` bound to its implementation, loaded when a run first needs it. */
import type { RunnerName } from '../config/schema';
import { experimentInfo } from './catalog';
import type { AnyExperiment, Experiment } from './types';

const LOAD: { readonly [R in RunnerName]: () => Promise<Experiment<R>> } = {
  HopfieldRunner: () => import('./hopfield/experiment').then((m) => m.hopfieldExperiment),
  CitationRunner: () => import('./citation-gnn/experiment').then((m) => m.citationExperiment),
  HypergradRunner: () => import('./hypergrad/experiment').then((m) => m.hypergradExperiment),
  ModuleRunner: () => import('./module/experiment').then((m) => m.moduleExperiment),
};

/** The experiment of a runner name, or undefined for a name no entry has. */
export async function loadExperiment(runner: unknown): Promise<AnyExperiment | undefined> {
  const info = experimentInfo(runner);
  return info && LOAD[info.runner]();
}
