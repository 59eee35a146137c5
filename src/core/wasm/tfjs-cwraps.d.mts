/** Types of ./tfjs-cwraps.mjs. */
export type CwrapSpec = [name: string, ret: 'number' | null, args: 'number'[]];
export const TFJS_CWRAPS: Record<'init' | 'initWithThreadsCount' | 'getThreadsCount' | 'registerTensor' | 'disposeData' | 'dispose', CwrapSpec>;
export function tfjsCwraps<F>(module: { cwrap(name: string, ret: string | null, args: string[]): F }): Record<keyof typeof TFJS_CWRAPS, F>;
