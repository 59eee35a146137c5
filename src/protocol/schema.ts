/**
 * Schema combinators for the message protocol: each schema checks a value that crossed a process
 * or webview boundary (or was read back from events.jsonl) and returns it typed, and
 * `Infer<typeof S>` is that type — so a message is declared once and its type and its check
 * cannot drift. Objects keep fields they do not declare; a value is copied only where a field is
 * revived (JSON's null back to NaN).
 */

export class ProtocolError extends Error {}

/** Where a check is: the message (`trace/forward`, `run/start`, ...) and the keys and indices below it. */
interface Ctx {
  root: string;
  path: (string | number)[];
}

export interface Schema<T> {
  parse(v: unknown, ctx: Ctx): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** "run/start.spec: field 'K' is missing or has the wrong type" (an array's items as "(item i)"). */
function fail(ctx: Ctx): never {
  const p = ctx.path;
  let j = p.length - 1;
  while (j >= 0 && typeof p[j] === 'number') j--;
  const where = [ctx.root, ...p.slice(0, Math.max(0, j)).map(String)].join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
  const items = p.slice(j + 1);
  throw new ProtocolError(`${where}: field '${j >= 0 ? String(p[j]) : '?'}' is missing or has the wrong type${items.length ? ` (item ${items.join(', ')})` : ''}`);
}

function scalar<T>(ok: (v: unknown) => boolean): Schema<T> {
  return { parse: (v, ctx) => (ok(v) ? (v as T) : fail(ctx)) };
}

export const num = scalar<number>((v) => typeof v === 'number');
export const str = scalar<string>((v) => typeof v === 'string');
export const bool = scalar<boolean>((v) => typeof v === 'boolean');
/** Anything (a config object's values). */
export const anything = scalar<unknown>(() => true);

/** A number that may be NaN or ±Infinity: JSON writes those as null, which reads back as NaN, so consumers always get a number. */
export const float: Schema<number> = { parse: (v, ctx) => (v === null ? NaN : typeof v === 'number' ? v : fail(ctx)) };

export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return { parse: (v, ctx) => (v === null ? null : s.parse(v, ctx)) };
}

export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export function optional<T>(s: Schema<T>): OptionalSchema<T> {
  return { optional: true, parse: (v, ctx) => (v === undefined ? undefined : s.parse(v, ctx)) };
}

export interface OneOf<L extends string> extends Schema<L> {
  readonly values: readonly L[];
}

/** One of these strings (a message's `type` is `oneOf('its/type')`). */
export function oneOf<const L extends string>(...values: L[]): OneOf<L> {
  return { values, parse: (v, ctx) => (typeof v === 'string' && (values as string[]).includes(v) ? (v as L) : fail(ctx)) };
}

/** The first schema that accepts the value. */
export function anyOf<S extends Schema<unknown>[]>(...schemas: S): Schema<Infer<S[number]>> {
  return {
    parse(v, ctx) {
      const depth = ctx.path.length;
      for (const s of schemas) {
        try {
          return s.parse(v, ctx) as Infer<S[number]>;
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          ctx.path.length = depth;
        }
      }
      return fail(ctx);
    },
  };
}

/** Parse every item; the same array back unless an item was revived. */
function items<T>(xs: unknown[], ctx: Ctx, at: (i: number) => Schema<T>): T[] {
  let out: T[] | undefined;
  for (let i = 0; i < xs.length; i++) {
    ctx.path.push(i);
    const y = at(i).parse(xs[i], ctx);
    ctx.path.pop();
    if (y !== xs[i]) (out ??= xs.slice() as T[])[i] = y;
  }
  return out ?? (xs as T[]);
}

export function arr<T>(s: Schema<T>): Schema<T[]> {
  return { parse: (v, ctx) => (Array.isArray(v) ? items(v, ctx, () => s) : fail(ctx)) };
}

export function pair<A, B>(a: Schema<A>, b: Schema<B>): Schema<[A, B]> {
  return { parse: (v, ctx) => (Array.isArray(v) && v.length === 2 ? (items<A | B>(v, ctx, (i) => (i === 0 ? a : b)) as [A, B]) : fail(ctx)) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string-keyed map whose values all match `s` (own keys only). */
export function record<T>(s: Schema<T>): Schema<Record<string, T>> {
  return {
    parse(v, ctx) {
      if (!isObject(v)) return fail(ctx);
      let out: Record<string, T> | undefined;
      for (const k of Object.keys(v)) {
        ctx.path.push(k);
        const y = s.parse(v[k], ctx);
        ctx.path.pop();
        if (y !== v[k]) (out ??= { ...(v as Record<string, T>) })[k] = y;
      }
      return out ?? (v as Record<string, T>);
    },
  };
}

export type Shape = Record<string, Schema<unknown>>;
type Prettify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
export type InferShape<S extends Shape> = Prettify<{ [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }>;

export interface ObjSchema<S extends Shape> extends Schema<InferShape<S>> {
  readonly shape: S;
}

/** An object with these fields (read as own properties); fields it does not declare pass through. */
export function obj<S extends Shape>(shape: S): ObjSchema<S> {
  const keys = Object.keys(shape);
  return {
    shape,
    parse(v, ctx) {
      if (!isObject(v)) return fail(ctx);
      let out: Record<string, unknown> | undefined;
      for (const k of keys) {
        const x = Object.hasOwn(v, k) ? v[k] : undefined;
        ctx.path.push(k);
        const y = shape[k].parse(x, ctx);
        ctx.path.pop();
        if (y !== x) (out ??= { ...v })[k] = y;
      }
      return (out ?? v) as InferShape<S>;
    },
  };
}

/** A message: its `type` and its fields. */
export function message<const T extends string, S extends Shape>(type: T, fields: S): ObjSchema<{ type: OneOf<T> } & S> {
  return obj({ type: oneOf(type), ...fields });
}

type Tagged = ObjSchema<{ type: OneOf<string> } & Shape>;

/**
 * The messages of one channel, told apart by `type` (looked up among the channel's own types only:
 * a `type` of "toString" or "__proto__" is unknown). `what` names the channel in errors.
 */
export function messages<M extends Tagged[]>(what: string, members: M): (v: unknown) => Infer<M[number]> {
  const byType = new Map<string, Tagged>(members.map((m) => [m.shape.type.values[0], m]));
  return (v) => {
    if (!isObject(v)) throw new ProtocolError(`${what} is not an object`);
    const t = v.type;
    const m = typeof t === 'string' ? byType.get(t) : undefined;
    if (!m) throw new ProtocolError(`unknown ${what} type ${JSON.stringify(t)}`);
    return m.parse(v, { root: t as string, path: [] }) as Infer<M[number]>;
  };
}

/** Check `v` against `s` as a message named `root` (for parts checked on their own). */
export function check<T>(s: Schema<T>, v: unknown, root: string): T {
  return s.parse(v, { root, path: [] });
}
