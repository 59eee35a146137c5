/** Experiment registry, by the authors' runner name. */
import type { RunnerName } from '../config/schema';
import type { Experiment } from './types';
import { hopfieldExperiment } from './hopfield/experiment';
import { hypergradExperiment } from './hypergrad/experiment';
import { citationExperiment } from './citation-gnn/experiment';

const REGISTRY: Partial<Record<RunnerName, Experiment>> = {
  HopfieldRunner: hopfieldExperiment,
  HypergradRunner: hypergradExperiment,
  CitationRunner: citationExperiment,
};

export function registerExperiment(e: Experiment): void {
  REGISTRY[e.runner] = e;
}

export function getExperiment(runner: string): Experiment | undefined {
  return REGISTRY[runner as RunnerName];
}

export function availableExperiments(): Experiment[] {
  return Object.values(REGISTRY) as Experiment[];
}
