/**
 * Two picked runs' configs side by side (issue 19): every key of either run, the ones whose values
 * differ marked (and listed first in words above the table); "only differences" hides the rest.
 */
import { configDiff, type RunRow } from '../src/shared/runsTable';

export function renderConfigDiff(card: HTMLElement, table: HTMLTableElement, summary: HTMLElement, picked: RunRow[], diffOnly: boolean): void {
  const pair = picked.filter((r) => r.unreadable === undefined);
  card.hidden = pair.length !== 2;
  if (pair.length !== 2) return;
  const [a, b] = pair;
  const rows = configDiff(a, b);
  const differing = rows.filter((r) => r.differs);
  summary.textContent = differing.length ? `${differing.length} of ${rows.length} keys differ: ${differing.map((d) => d.key).join(', ')}` : `the two configs are the same (${rows.length} keys)`;
  const head = document.createElement('tr');
  for (const [text, title] of [['key', ''], [a.name, a.runId], [b.name, b.runId]]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = text;
    if (title) th.title = title;
    head.append(th);
  }
  table.tHead!.replaceChildren(head);
  const show = (v: unknown) => (v === undefined ? '(absent)' : String(v));
  table.tBodies[0].replaceChildren(
    ...rows
      .filter((r) => !diffOnly || r.differs)
      .map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.key = r.key;
        if (r.differs) tr.classList.add('differs');
        const k = document.createElement('th');
        k.scope = 'row';
        k.textContent = r.key;
        const va = document.createElement('td');
        va.textContent = show(r.a);
        const vb = document.createElement('td');
        vb.textContent = show(r.b);
        if (r.differs) for (const td of [va, vb]) td.append(Object.assign(document.createElement('span'), { className: 'sr-only', textContent: ' (differs)' }));
        tr.append(k, va, vb);
        return tr;
      }),
  );
}
