/**
 * The runs tree (src/extension/runsTree.ts) on a fake store that counts its reads: the listing is
 * read once; a change of one run reads that run alone and redraws its item (the same object,
 * fired by itself); a run added or removed redraws the root from the cached items, in the
 * newest-first order; Refresh (a change of unknown runs) lists everything again.
 *
 * Mutants tried (each made this test fail, then reverted): every change firing undefined and
 * dropping the cache (the old behaviour: "one run's change reads that run alone"); the changed
 * run shown on a new RunItem instead of the one the tree holds ("fires its own item"); a new run
 * inserted at the end ("newest first"); the removed run left checked ("… and unchecked").
 */
import '../helpers/fakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunsTreeProvider, RunItem, type TreeStore } from '../../src/extension/runsTree';
import { Emitter, type RunsChange, type RunEvent } from '../../src/extension/runsStore';
import type { RunDescription } from '../../src/run/recorder';

const run = (i: number, loss = 1 / i): RunDescription =>
  ({ runId: `r${i}`, experiment: 'hopfield', title: 'Hopfield', method: 'Neumann_RBP', K: 20, T: 30, steps: 10, status: 'completed', startedAt: `2026-12-04T10:0${i}:00.000Z`, finalMetrics: { loss }, config: {} }) as unknown as RunDescription;

class FakeStore implements TreeStore {
  runs = new Map<string, RunDescription>();
  reads = { list: 0, describe: [] as string[], checkpoints: [] as string[] };
  private readonly changed = new Emitter<RunsChange | undefined>();
  private readonly events = new Emitter<RunEvent>();
  readonly onDidChange = this.changed.event;
  readonly onRunEvent = this.events.event;
  list(): RunDescription[] {
    this.reads.list++;
    return [...this.runs.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }
  describe(runId: string): RunDescription | undefined {
    this.reads.describe.push(runId);
    return this.runs.get(runId);
  }
  isActive(): boolean {
    return false;
  }
  checkpointSteps(runId: string): number[] {
    this.reads.checkpoints.push(runId);
    return [];
  }
  change(runIds?: string[]): void {
    this.changed.fire(runIds ? { runIds } : undefined);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 150)); // past the tree's 100 ms batching

test('runs tree: one run’s change reads that run alone and fires its own item; added and removed runs redraw the root from the cache', async () => {
  const store = new FakeStore();
  for (const i of [1, 2, 3, 4, 5]) store.runs.set(`r${i}`, run(i));
  const tree = new RunsTreeProvider(store);
  const fired: (RunItem | undefined)[] = [];
  tree.onDidChangeTreeData((e) => fired.push(e as RunItem | undefined));
  try {
    const items = tree.getChildren();
    assert.deepEqual(items.map((it) => it.run.runId), ['r5', 'r4', 'r3', 'r2', 'r1']);
    assert.equal(store.reads.list, 1);
    store.reads.checkpoints = [];

    // One run changes (its run.json rewritten): that run is read, its item redrawn.
    store.runs.set('r2', run(2, 0.125));
    store.change(['r2']);
    await settle();
    assert.deepEqual(store.reads.describe, ['r2'], 'one run’s change reads that run alone');
    assert.deepEqual(store.reads.checkpoints, ['r2']);
    assert.equal(fired.length, 1);
    assert.equal(fired[0], items[3], 'fires its own item (the object the tree holds), not the root');
    assert.match(String(items[3].description), /loss 0\.125/);
    const again = tree.getChildren();
    assert.equal(store.reads.list, 1, 'the tree asks again: answered from the cache');
    assert.deepEqual(again, items);

    // A run added: read alone, placed newest first; the root redraws from the cache.
    store.reads.describe = [];
    store.runs.set('r6', run(6));
    store.change(['r6']);
    await settle();
    assert.deepEqual(fired.slice(1), [undefined]);
    assert.deepEqual(store.reads.describe, ['r6']);
    assert.deepEqual(tree.getChildren().map((it) => it.run.runId), ['r6', 'r5', 'r4', 'r3', 'r2', 'r1'], 'newest first');
    assert.equal(store.reads.list, 1);

    // A checked run removed: gone from the root and unchecked, nothing else read.
    tree.checked.add('r4');
    store.reads.describe = [];
    store.runs.delete('r4');
    store.change(['r4']);
    await settle();
    assert.deepEqual(store.reads.describe, ['r4']);
    assert.deepEqual(tree.getChildren().map((it) => it.run.runId), ['r6', 'r5', 'r3', 'r2', 'r1']);
    assert.equal(tree.checked.has('r4'), false, '… and unchecked');
    assert.equal(store.reads.list, 1);

    // Two changes within the batching window: each run read once, one redraw each.
    store.reads.describe = [];
    fired.length = 0;
    store.change(['r1']);
    store.change(['r3', 'r1']);
    await settle();
    assert.deepEqual(store.reads.describe.sort(), ['r1', 'r3']);
    assert.deepEqual(fired.map((it) => it?.run.runId).sort(), ['r1', 'r3']);

    // Refresh (unknown runs changed): everything is listed again.
    fired.length = 0;
    store.change();
    await settle();
    assert.deepEqual(fired, [undefined]);
    assert.equal(tree.getChildren().length, 5);
    assert.equal(store.reads.list, 2);
  } finally {
    tree.dispose();
  }
});
