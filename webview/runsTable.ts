/**
 * The runs table (issue 19): every recorded run as a row of a real <table> (column headers are
 * <th> with sort buttons and aria-sort), filtered by text, sorted by any column, virtualised (only
 * the rows in view are in the DOM: a root of 1,000 runs draws ~20), and usable from the keyboard:
 * ↑/↓/Home/End/PageUp/PageDown move, Enter or Space picks the focused run. Picked runs are
 * overlaid (the host draws their series); two picked show their config diff. The model (sort,
 * filter, columns, rows in view) is src/shared/runsTable.ts, shared with `rbp runs`.
 */
import { columnsFor, filterRows, formatCell, rowsInView, sortRows, type Column, type RunRow, type SortSpec } from '../src/shared/runsTable';

/** Height of a body row in px (style.css `.runs-table tbody tr`); the virtual scroll counts with it. */
export const ROW_PX = 26;

export interface RunsTableCallbacks {
  /** The picked runs changed (by a click, Enter or Space). */
  onPick(runIds: string[]): void;
  /** Sort or filter changed (persisted by the owner). */
  onSettings(s: { sort?: SortSpec; filter: string }): void;
  /** "Compare at this step": the gradient check at this run's newest checkpoint. */
  onCompareAt(runId: string, step: number): void;
}

export class RunsTableView {
  private rows: RunRow[] = [];
  private view: RunRow[] = [];
  private columns: Column[] = [];
  private focus = 0;
  picked: string[] = [];
  sort: SortSpec | undefined;
  filter = '';

  constructor(
    private readonly scroller: HTMLElement,
    private readonly table: HTMLTableElement,
    private readonly filterInput: HTMLInputElement,
    private readonly caption: HTMLElement,
    private readonly cb: RunsTableCallbacks,
  ) {
    scroller.addEventListener('scroll', () => this.renderBody());
    filterInput.addEventListener('input', () => {
      this.filter = filterInput.value;
      this.focus = 0;
      scroller.scrollTop = 0;
      this.refresh();
      this.cb.onSettings({ sort: this.sort, filter: this.filter });
    });
    table.tBodies[0].addEventListener('keydown', (e) => this.onKey(e));
    table.tBodies[0].addEventListener('click', (e) => {
      const t = e.target as HTMLElement;
      const tr = t.closest<HTMLTableRowElement>('tr[data-run]');
      if (!tr) return;
      const act = t.closest<HTMLElement>('[data-compare-at]');
      if (act) {
        this.cb.onCompareAt(tr.dataset.run!, Number(act.dataset.compareAt));
        return;
      }
      this.focus = Number(tr.dataset.index);
      this.toggle(tr.dataset.run!);
    });
  }

  /** Restore persisted settings (before the first rows arrive). */
  restore(s: { sort?: SortSpec; filter?: string }, picked: string[]): void {
    this.sort = s.sort;
    this.filter = s.filter ?? '';
    this.filterInput.value = this.filter;
    this.picked = picked;
  }

  /** The host overlays these runs (Compare Runs from the Runs view, or a restored panel). */
  setPicked(runIds: string[]): void {
    this.picked = runIds;
    this.refresh();
  }

  setRows(rows: RunRow[]): void {
    this.rows = rows;
    this.refresh();
  }

  /** The rows as the table orders and filters them (what the test and the caption read). */
  get visibleRows(): RunRow[] {
    return this.view;
  }

  pickedRows(): RunRow[] {
    return this.picked.map((id) => this.rows.find((r) => r.runId === id)).filter((r): r is RunRow => r !== undefined);
  }

  private refresh(): void {
    this.columns = columnsFor(this.rows);
    const filtered = filterRows(this.rows, this.filter, this.columns);
    this.view = this.sort ? sortRows(filtered, this.sort, this.columns) : filtered;
    this.focus = Math.min(this.focus, Math.max(0, this.view.length - 1));
    this.renderHead();
    this.renderBody();
    this.caption.textContent = `${this.view.length} of ${this.rows.length} runs${this.filter ? ` match “${this.filter}”` : ''} · ${this.picked.length} picked (Enter or Space picks; picked runs are overlaid, two show their config diff)`;
  }

  private renderHead(): void {
    const tr = document.createElement('tr');
    const pick = document.createElement('th');
    pick.scope = 'col';
    pick.textContent = 'pick';
    tr.append(pick);
    for (const c of this.columns) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.column = c.id;
      const dir = this.sort?.column === c.id ? this.sort.dir : undefined;
      th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      b.textContent = c.header + (dir === 'asc' ? ' ▲' : dir === 'desc' ? ' ▼' : '');
      b.title = `Sort by ${c.header}`;
      b.addEventListener('click', () => {
        this.sort = { column: c.id, dir: this.sort?.column === c.id && this.sort.dir === 'asc' ? 'desc' : 'asc' };
        this.refresh();
        this.cb.onSettings({ sort: this.sort, filter: this.filter });
      });
      th.append(b);
      tr.append(th);
    }
    const act = document.createElement('th');
    act.scope = 'col';
    act.textContent = 'actions';
    tr.append(act);
    this.table.tHead!.replaceChildren(tr);
  }

  /** Only the rows in view (and a few around them) are in the DOM; spacer rows keep the scroll height. */
  private renderBody(): void {
    const body = this.table.tBodies[0];
    const headPx = this.table.tHead?.getBoundingClientRect().height ?? ROW_PX;
    const { first, last } = rowsInView(this.view.length, Math.max(0, this.scroller.scrollTop - headPx), this.scroller.clientHeight || 10 * ROW_PX, ROW_PX);
    const span = this.columns.length + 2;
    const spacer = (n: number) => {
      const tr = document.createElement('tr');
      tr.className = 'spacer';
      tr.setAttribute('aria-hidden', 'true');
      const td = document.createElement('td');
      td.colSpan = span;
      td.style.height = `${n * ROW_PX}px`;
      tr.append(td);
      return tr;
    };
    const out: HTMLTableRowElement[] = [];
    if (first > 0) out.push(spacer(first));
    for (let i = first; i <= last; i++) out.push(this.renderRow(this.view[i], i));
    if (last < this.view.length - 1) out.push(spacer(this.view.length - 1 - last));
    const hadFocus = body.contains(document.activeElement);
    body.replaceChildren(...out);
    body.dataset.rendered = String(last - first + 1);
    if (hadFocus) body.querySelector<HTMLElement>(`tr[data-index="${this.focus}"]`)?.focus({ preventScroll: true });
  }

  private renderRow(r: RunRow, i: number): HTMLTableRowElement {
    const tr = document.createElement('tr');
    const picked = this.picked.includes(r.runId);
    tr.dataset.run = r.runId;
    tr.dataset.index = String(i);
    tr.tabIndex = i === this.focus ? 0 : -1;
    tr.setAttribute('aria-selected', String(picked));
    tr.setAttribute('aria-rowindex', String(i + 2));
    if (r.unreadable !== undefined) tr.classList.add('unreadable');
    const pick = document.createElement('td');
    pick.className = 'pick';
    pick.textContent = picked ? '☑' : '☐';
    pick.setAttribute('aria-label', picked ? 'picked' : 'not picked');
    tr.append(pick);
    for (const c of this.columns) {
      const td = document.createElement('td');
      td.dataset.column = c.id;
      td.textContent = formatCell(c, r);
      if (c.id === 'name') td.title = r.unreadable !== undefined ? `unreadable record: ${r.unreadable}` : `${r.runId}${r.reason ? `\n${r.reason}` : ''}`;
      tr.append(td);
    }
    const act = document.createElement('td');
    const step = r.checkpoints.at(-1);
    if (step !== undefined) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'tool';
      b.dataset.compareAt = String(step);
      b.textContent = 'Compare at this step';
      b.title = `Compare TBPTT vs Neumann-RBP at the weights of step ${step} (this run's newest checkpoint)`;
      b.tabIndex = -1;
      act.append(b);
    }
    tr.append(act);
    return tr;
  }

  private toggle(runId: string): void {
    this.picked = this.picked.includes(runId) ? this.picked.filter((x) => x !== runId) : [...this.picked, runId];
    this.refresh();
    this.cb.onPick(this.picked);
  }

  private onKey(e: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / ROW_PX) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      e.preventDefault();
      this.focus = Math.max(0, Math.min(this.view.length - 1, this.focus + moves[e.key]));
      this.scrollToFocus();
      this.renderBody();
      this.table.tBodies[0].querySelector<HTMLElement>(`tr[data-index="${this.focus}"]`)?.focus({ preventScroll: true });
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      const r = this.view[this.focus];
      if (r) this.toggle(r.runId);
      this.table.tBodies[0].querySelector<HTMLElement>(`tr[data-index="${this.focus}"]`)?.focus({ preventScroll: true });
    }
  }

  private scrollToFocus(): void {
    const headPx = this.table.tHead?.getBoundingClientRect().height ?? ROW_PX;
    const top = headPx + this.focus * ROW_PX;
    if (top < this.scroller.scrollTop + headPx) this.scroller.scrollTop = top - headPx;
    else if (top + ROW_PX > this.scroller.scrollTop + this.scroller.clientHeight) this.scroller.scrollTop = top + ROW_PX - this.scroller.clientHeight;
  }
}
