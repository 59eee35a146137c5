/**
 * Kernels of the graph and residual computations, registered for the cpu and wasm backends:
 * `overrides.ts` (tfjs's GatherV2 / UnsortedSegmentSum replaced by fast JS ones), `csr.ts` (the
 * graph in compressed sparse rows and its row-sum kernel), `residual.ts` (the squared residual
 * kernel), `fused.ts` (their registration and the ops that use them).
 */
export * from './overrides';
export * from './csr';
export * from './residual';
export * from './fused';
