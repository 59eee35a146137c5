/** The header: experiment, method, K, T, step, backend, elapsed, ρ(J), verdict, status, failures. */
import type { RunModel } from './model';
import { fmtNum } from './charts/common';
import { adviceFor, noAdviceNote, type Advice } from '../src/shared/advice';
import { etaFromSteps, fmtDuration } from '../src/shared/eta';
import { backendSentence } from '../src/shared/backendSentence';

const $ = (id: string) => document.getElementById(id)!;

function fmtElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function elapsedMs(m: RunModel, now = Date.now()): number {
  if (m.end || !m.started) return m.lastElapsedMs;
  return Math.max(m.lastElapsedMs, now - Date.parse(m.started.startedAt));
}

export function renderHeader(m: RunModel, opts: { trusted: boolean; trustReason?: string }): void {
  const s = m.started;
  const status = m.status;
  const badge = $('status');
  badge.textContent = status === 'idle' ? 'no run' : status;
  badge.dataset.status = status;
  document.body.dataset.status = status;
  $('title').textContent = s ? s.title : m.runId ? m.runId : 'RBP Lab';
  $('f-experiment').textContent = s?.experiment ?? '–';
  $('f-method').textContent = s?.method ?? '–';
  $('f-k').textContent = s ? (s.K === null ? 'n/a' : String(s.K)) : '–';
  $('f-t').textContent = s ? String(s.T) : '–';
  $('f-step').textContent = s ? `${m.lastStep + 1} / ${s.steps}` : '–';
  // One word for the experiment's step everywhere (the catalog's stepLabel: step, epoch, meta-iteration).
  $('f-step-word').textContent = s && !m.isGradcheck ? s.stepLabel : 'step';
  const backend = $('f-backend');
  backend.textContent = s ? backendSentence(s.backend) : '–';
  backend.title = s ? `${s.backend.description}\nNode ${s.backend.nodeVersion} at ${s.backend.execPath}` : '';
  $('f-elapsed').textContent = m.runId ? fmtElapsed(elapsedMs(m)) : '–';
  $('f-eta').textContent = etaText(m);
  const d = m.diagnostics;
  const stepWord = s?.stepLabel ?? 'step';
  // ρ(J) and the verdict always say the step they were measured at.
  $('f-rho').textContent = d ? `${fmtNum(d.rho)} at ${stepWord} ${d.step}` : '–';
  const verdict = $('verdict');
  verdict.dataset.level = d ? d.verdict.level : 'none';
  const icon = verdict.querySelector('.codicon')!;
  icon.className = `codicon codicon-${!d ? 'info' : d.verdict.level === 'ok' ? 'pass' : d.verdict.level === 'warn' ? 'warning' : 'error'}`;
  $('verdict-text').textContent = d ? `As of ${stepWord} ${d.step}: ${d.verdict.message}` : 'No diagnostics yet';
  renderAdvice(s && d ? { runner: s.runner, config: s.config, verdict: d.verdict } : undefined);
  const banner = $('banner');
  if (m.end?.type === 'run/failed') {
    banner.hidden = false;
    banner.dataset.kind = 'error';
    $('banner-text').textContent = `Run failed (${m.end.kind}): ${m.end.reason}`;
  } else if (m.warning) {
    banner.hidden = false;
    banner.dataset.kind = 'warning';
    $('banner-text').textContent = `Warning: ${m.warning}`;
  } else if (!opts.trusted) {
    banner.hidden = false;
    banner.dataset.kind = 'warning';
    $('banner-text').textContent = opts.trustReason ?? 'This workspace is not trusted: recorded runs can be viewed, new runs cannot start.';
  } else banner.hidden = true;
  // A training run's checkpoints: pick a step, compare the methods at its weights.
  const ck = $('checkpoints');
  ck.hidden = m.isGradcheck || !m.checkpoints.length;
  const sel = $('ckpt-select') as HTMLSelectElement;
  const steps = m.checkpoints.map((c) => String(c.step));
  if (Array.from(sel.options, (o) => o.value).join() !== [...steps].reverse().join()) {
    const keep = sel.value;
    sel.replaceChildren(
      ...[...m.checkpoints].reverse().map((c, i) => {
        const o = document.createElement('option');
        o.value = String(c.step);
        o.textContent = `${c.step}${i === 0 ? ' (newest)' : ''} · ${c.reason}`;
        return o;
      }),
    );
    sel.value = steps.includes(keep) ? keep : (steps[steps.length - 1] ?? '');
  }
  ($('compare-at') as HTMLElement & { disabled: boolean }).disabled = !opts.trusted || !m.checkpoints.length;
  // A gradient check at a checkpoint says whose weights it used.
  const from = $('compare-from');
  from.hidden = !(m.isGradcheck && s?.from);
  from.textContent = s?.from ? `At the weights of step ${s.from.step} of run ${s.from.runId}` : '';
  const stop = $('stop') as HTMLElement & { disabled: boolean };
  stop.disabled = status !== 'running';
}

/** The verdict's advice as buttons (each posts applyFix; the host edits the run's config file). */
export function currentAdvice(m: RunModel): Advice[] {
  const s = m.started;
  const d = m.diagnostics;
  return s && d ? adviceFor({ runner: s.runner, config: s.config, verdict: d.verdict }) : [];
}

function renderAdvice(input: Parameters<typeof adviceFor>[0] | undefined): void {
  const box = $('advice');
  const advice = input ? adviceFor(input) : [];
  const note = input ? noAdviceNote(input) : undefined;
  const sig = JSON.stringify([advice, note]);
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  box.hidden = !advice.length && !note;
  box.replaceChildren(
    ...advice.map((a) => {
      const b = document.createElement('vscode-button') as HTMLElement & { icon: string };
      b.className = 'fix';
      b.icon = 'lightbulb';
      b.dataset.fixKey = a.key;
      b.dataset.fixValue = JSON.stringify(a.value);
      b.title = `Set ${a.key}: ${String(a.value)} in this run's config file`;
      b.textContent = a.label;
      return b;
    }),
    ...(note ? [Object.assign(document.createElement('span'), { className: 'advice-note', textContent: note })] : []),
  );
}

/** The ETA while a training run goes: the time left at its recent step rate, and that rate. */
export function etaText(m: RunModel): string {
  const s = m.started;
  if (!s || m.isGradcheck || m.status !== 'running') return '–';
  const eta = etaFromSteps(m.stepTimes, s.steps);
  if (!eta) return `calibrating (${s.steps} ${s.stepLabel}s)`;
  const rate = eta.msPerStep < 1000 ? `${Math.round(eta.msPerStep)} ms` : `${(eta.msPerStep / 1000).toFixed(1)} s`;
  return `${fmtDuration(eta.remainingMs)} left (${rate} per ${s.stepLabel} over the last ${eta.basis})`;
}
