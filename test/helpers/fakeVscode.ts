/**
 * A stand-in for the `vscode` module, for unit tests of extension code that needs only its plain
 * classes (TreeItem, EventEmitter, ThemeIcon, …): import this before the module under test. Any
 * other name is an inert class, so importing a module that mentions more of the API works, and
 * calling what is not faked here fails where it is used.
 */
import Module from 'module';

class EventEmitter<T> {
  private listeners = new Set<(e: T) => void>();
  readonly event = (l: (e: T) => void) => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string;
  iconPath?: unknown;
  contextValue?: string;
  checkboxState?: number;
  command?: unknown;
  constructor(
    public label: string,
    public collapsibleState?: number,
  ) {}
}

class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: unknown,
  ) {}
}

class ThemeColor {
  constructor(readonly id: string) {}
}

const known: Record<string, unknown> = {
  EventEmitter,
  TreeItem,
  ThemeIcon,
  ThemeColor,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  TreeItemCheckboxState: { Unchecked: 0, Checked: 1 },
};
const fake = new Proxy(known, { get: (t, k: string) => (k in t ? t[k] : k === '__esModule' ? false : class {}) });

const M = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string; _cache: Record<string, unknown> };
const resolve = M._resolveFilename;
M._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
};
M._cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: fake };
