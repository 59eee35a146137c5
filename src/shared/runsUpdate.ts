/**
 * The dashboard's incremental runs list: when one run's folder changes (its run.json rewritten, a
 * run added or removed) the host reads that run alone and sends its row and summary; the webview
 * merges them into what it holds, which then equals a full listing. Pure (no fs, no DOM).
 */

/**
 * `list` with each of `upserts` replacing the entry of its run (in place: a run's start never
 * changes) or inserted where a full listing has it (newest start first), and the `removed` runs left out.
 */
export function applyRunsUpdate<T extends { runId: string; startedAt: string }>(list: readonly T[], upserts: readonly T[], removed: readonly string[]): T[] {
  const gone = new Set(removed);
  const out = list.filter((x) => !gone.has(x.runId));
  for (const u of upserts) {
    const i = out.findIndex((x) => x.runId === u.runId);
    if (i >= 0) out[i] = u;
    else {
      const at = out.findIndex((x) => x.startedAt.localeCompare(u.startedAt) < 0); // listRuns' order
      out.splice(at < 0 ? out.length : at, 0, u);
    }
  }
  return out;
}
