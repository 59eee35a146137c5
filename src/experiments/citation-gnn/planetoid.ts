/**
 * Loader for the Planetoid citation data sets (Cora, CiteSeer, PubMed) in their original form:
 * `ind.<name>.{x,y,tx,ty,allx,ally,graph}` (Python-2 pickles, read by our safe pickle VM) and
 * `ind.<name>.test.index` (text). Mirrors the standard loader (Kipf & Welling's `load_data`):
 *
 *   features = vstack(allx, tx); features[test_idx_reorder] = features[sorted(test_idx_reorder)]
 *
 * which amounts to: row i < |allx| is allx[i]; the k-th test row tx[k] goes to node test.index[k].
 * CiteSeer's test indices have gaps (isolated nodes without features); those rows stay zero and
 * their label is -1 (standard loaders give them an all-zero one-hot label).
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadPickle, toAdjacency, toDense2D } from './pickle';
import { Rng } from '../../core/random';
import { PLANETOID_NAMES, planetoidFiles, type PlanetoidName } from '../catalog';

export { PLANETOID_NAMES, type PlanetoidName };

export interface EdgeStats {
  /** Entries in the adjacency lists, duplicates and self-loops included (Cora: 10,858). */
  adjacencyEntries: number;
  /** Distinct (neighbour, node) pairs in the lists as given (Cora: 10,556). */
  distinctDirected: number;
  /** Repeated entries dropped. */
  duplicates: number;
  /** Self-loops found in the lists (dropped from `edges` unless keepSelfLoops). */
  selfLoops: number;
  /** Reverse edges added so that the edge set is symmetric (the standard loader's graph is undirected). */
  addedBySymmetrization: number;
  /** Directed edges in `src`/`dst` (each undirected edge twice, plus kept self-loops). */
  directedEdges: number;
  /** Undirected edges, self-loops excluded (Cora: 5,278). */
  undirectedEdges: number;
  /** Nodes with no edge at all. */
  isolatedNodes: number;
  maxDegree: number;
  meanDegree: number;
}

export interface PlanetoidSplit {
  train: Int32Array;
  val: Int32Array;
  test: Int32Array;
}

export interface PlanetoidData {
  name: PlanetoidName;
  numNodes: number;
  numFeatures: number;
  numClasses: number;
  /** Dense row-major numNodes × numFeatures. */
  features: Float32Array;
  /** Class of each node; -1 where the data set gives none (CiteSeer's isolated test gaps). */
  labels: Int32Array;
  /** Directed edges j → i (message from src j to dst i), sorted by dst then src. */
  src: Int32Array;
  dst: Int32Array;
  /** The standard split: train = the first |y| nodes, val = the next 500, test = test.index sorted. */
  split: PlanetoidSplit;
  /** Nodes whose rows were filled with zeros (gaps in test.index). */
  missingTestNodes: Int32Array;
  edgeStats: EdgeStats;
}

export interface PlanetoidOptions {
  /** Keep self-loops from the adjacency lists in src/dst (default false: the GNN has its own state update). */
  keepSelfLoops?: boolean;
  /** Size of the standard validation set (default 500). */
  numVal?: number;
}

export class PlanetoidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanetoidError';
  }
}

const HOW_TO_GET =
  'download ind.<name>.* from the Planetoid project (github.com/kimiyoung/planetoid, data/ folder) and point --data or the rbpLab.dataDir setting at that folder';

function readFile(dir: string, name: PlanetoidName, suffix: string): Buffer {
  const file = `ind.${name}.${suffix}`;
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) {
    throw new PlanetoidError(`${file} not found in ${path.resolve(dir)}: ${HOW_TO_GET.replace('<name>', name)}`);
  }
  return fs.readFileSync(full);
}

export function parseTestIndex(text: string, file: string): Int32Array {
  const out: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s === '') continue;
    if (!/^\d+$/.test(s)) throw new PlanetoidError(`${file}: line ${i + 1} is not a node index: '${s.slice(0, 40)}'`);
    out.push(Number(s));
  }
  if (out.length === 0) throw new PlanetoidError(`${file}: no test indices`);
  return Int32Array.from(out);
}

/** Check that every listed file is present, without reading them. Returns the missing ones. */
export function missingPlanetoidFiles(dir: string, name: PlanetoidName): string[] {
  return planetoidFiles(name).filter((f) => !fs.existsSync(path.join(dir, f)));
}

function argmaxRows(data: Float32Array, rows: number, cols: number, out: Int32Array, outOffset: number, rowMap?: Int32Array): void {
  for (let r = 0; r < rows; r++) {
    let best = -1;
    let bestV = 0;
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[rowMap ? rowMap[r] : outOffset + r] = best;
  }
}

export function loadPlanetoid(dir: string, name: PlanetoidName, opts: PlanetoidOptions = {}): PlanetoidData {
  if (!PLANETOID_NAMES.includes(name)) throw new PlanetoidError(`unknown Planetoid data set '${String(name)}' (expected ${PLANETOID_NAMES.join(', ')})`);
  if (!fs.existsSync(dir)) throw new PlanetoidError(`data folder ${path.resolve(dir)} does not exist: ${HOW_TO_GET.replace('<name>', name)}`);
  const missing = missingPlanetoidFiles(dir, name);
  if (missing.length > 0) throw new PlanetoidError(`${missing.join(', ')} not found in ${path.resolve(dir)}: ${HOW_TO_GET.replace('<name>', name)}`);

  const load = (s: string): unknown => loadPickle(readFile(dir, name, s), `ind.${name}.${s}`);
  const y = toDense2D(load('y'), `ind.${name}.y`);
  const tx = toDense2D(load('tx'), `ind.${name}.tx`);
  const ty = toDense2D(load('ty'), `ind.${name}.ty`);
  const allx = toDense2D(load('allx'), `ind.${name}.allx`);
  const ally = toDense2D(load('ally'), `ind.${name}.ally`);
  const graph = toAdjacency(load('graph'), `ind.${name}.graph`);
  const testFile = `ind.${name}.test.index`;
  const testIdx = parseTestIndex(readFile(dir, name, 'test.index').toString('utf8'), testFile);

  const F = allx.cols;
  const C = ally.cols;
  const where = (f: string): string => `ind.${name}.${f} in ${path.resolve(dir)}`;
  if (tx.cols !== F) throw new PlanetoidError(`${where('tx')} has ${tx.cols} feature columns but allx has ${F}`);
  if (ty.cols !== C || y.cols !== C) throw new PlanetoidError(`${where('ty')}/y have ${ty.cols}/${y.cols} classes but ally has ${C}`);
  if (ally.rows !== allx.rows) throw new PlanetoidError(`${where('ally')} has ${ally.rows} rows but allx has ${allx.rows}`);
  if (ty.rows !== tx.rows) throw new PlanetoidError(`${where('ty')} has ${ty.rows} rows but tx has ${tx.rows}`);
  if (testIdx.length !== tx.rows) throw new PlanetoidError(`${testFile} lists ${testIdx.length} nodes but tx has ${tx.rows} rows`);
  if (y.rows > allx.rows) throw new PlanetoidError(`${where('y')} has more rows (${y.rows}) than allx (${allx.rows})`);

  let maxTest = 0;
  for (const t of testIdx) maxTest = Math.max(maxTest, t);
  const N = Math.max(allx.rows, maxTest + 1);
  for (const [i, list] of graph) {
    if (i < 0 || i >= N) throw new PlanetoidError(`${where('graph')}: node ${i} is outside the ${N} nodes with features`);
    for (const j of list) if (j < 0 || j >= N) throw new PlanetoidError(`${where('graph')}: neighbour ${j} of node ${i} is outside the ${N} nodes with features`);
  }

  // Features and labels.
  const features = new Float32Array(N * F);
  features.set(allx.data);
  const labels = new Int32Array(N).fill(-1);
  argmaxRows(ally.data, ally.rows, C, labels, 0);
  const seen = new Uint8Array(N);
  for (let k = 0; k < testIdx.length; k++) {
    const node = testIdx[k];
    if (seen[node]) throw new PlanetoidError(`${testFile}: node ${node} is listed twice`);
    seen[node] = 1;
    features.set(tx.data.subarray(k * F, (k + 1) * F), node * F);
  }
  argmaxRows(ty.data, ty.rows, C, labels, 0, testIdx);
  const missingTest: number[] = [];
  for (let i = allx.rows; i < N; i++) if (!seen[i]) missingTest.push(i);

  // Split.
  const numVal = opts.numVal ?? 500;
  const train = Int32Array.from({ length: y.rows }, (_, i) => i);
  const valEnd = Math.min(y.rows + numVal, allx.rows);
  const val = Int32Array.from({ length: valEnd - y.rows }, (_, i) => y.rows + i);
  const test = Int32Array.from(testIdx).sort();

  const { src, dst, stats } = buildEdges(graph, N, opts.keepSelfLoops ?? false);
  return {
    name,
    numNodes: N,
    numFeatures: F,
    numClasses: C,
    features,
    labels,
    src,
    dst,
    split: { train, val, test },
    missingTestNodes: Int32Array.from(missingTest),
    edgeStats: stats,
  };
}

/**
 * Directed edges from adjacency lists: every entry j in the list of node i is a message j → i.
 * Duplicates are merged, the set is made symmetric, self-loops are dropped unless asked for.
 */
export function buildEdges(graph: Map<number, number[]>, numNodes: number, keepSelfLoops = false): { src: Int32Array; dst: Int32Array; stats: EdgeStats } {
  let entries = 0;
  const given = new Set<number>();
  const key = (s: number, d: number): number => d * numNodes + s;
  for (const [i, list] of graph) {
    for (const j of list) {
      entries++;
      given.add(key(j, i));
    }
  }
  let selfLoops = 0;
  const all = new Set<number>();
  for (const k of given) {
    const s = k % numNodes;
    const d = (k - s) / numNodes;
    if (s === d) {
      selfLoops++;
      if (keepSelfLoops) all.add(k);
      continue;
    }
    all.add(k);
    all.add(key(d, s));
  }
  let added = 0;
  for (const k of all) if (!given.has(k)) added++;
  const keys = Float64Array.from(all).sort();
  const src = new Int32Array(keys.length);
  const dst = new Int32Array(keys.length);
  const degree = new Int32Array(numNodes);
  for (let e = 0; e < keys.length; e++) {
    const s = keys[e] % numNodes;
    const d = (keys[e] - s) / numNodes;
    src[e] = s;
    dst[e] = d;
    if (s !== d) degree[d]++;
  }
  let isolated = 0;
  let maxDegree = 0;
  let degSum = 0;
  for (let i = 0; i < numNodes; i++) {
    if (degree[i] === 0) isolated++;
    maxDegree = Math.max(maxDegree, degree[i]);
    degSum += degree[i];
  }
  const keptLoops = keepSelfLoops ? selfLoops : 0;
  return {
    src,
    dst,
    stats: {
      adjacencyEntries: entries,
      distinctDirected: given.size,
      duplicates: entries - given.size,
      selfLoops,
      addedBySymmetrization: added,
      directedEdges: keys.length,
      undirectedEdges: (keys.length - keptLoops) / 2,
      isolatedNodes: isolated,
      maxDegree,
      meanDegree: degSum / numNodes,
    },
  };
}

export interface RandomSplitOptions {
  /** Fraction for validation (default 0.49, as in Liao et al. 2018: 1% train, 49% val, rest test). */
  valRatio?: number;
  /** When given, nodes with label < 0 are left out of every set. */
  labels?: Int32Array;
}

/** A seeded random split: train `trainRatio` (at least one node), val `valRatio`, the rest test. */
export function randomSplit(numNodes: number, trainRatio = 0.01, seed = 0, opts: RandomSplitOptions = {}): PlanetoidSplit {
  const valRatio = opts.valRatio ?? 0.49;
  if (!(trainRatio > 0 && valRatio >= 0 && trainRatio + valRatio < 1)) throw new PlanetoidError(`bad split ratios: train ${trainRatio}, val ${valRatio}`);
  let nodes = new Rng(seed).permutation(numNodes);
  if (opts.labels) {
    const labels = opts.labels;
    nodes = nodes.filter((i) => labels[i] >= 0);
  }
  const n = nodes.length;
  const nTrain = Math.max(1, Math.round(n * trainRatio));
  const nVal = Math.round(n * valRatio);
  return {
    train: nodes.slice(0, nTrain).sort(),
    val: nodes.slice(nTrain, nTrain + nVal).sort(),
    test: nodes.slice(nTrain + nVal).sort(),
  };
}
