/**
 * Entity columns derived from the zod schema of an entity's plain fields, so that a shape written once in
 * zod (the rules a client must meet) also gives the table's properties and the conversions between a stored
 * row (Dates) and its JSON representation (RFC 3339 strings). Covers what plain fields are: text, booleans,
 * integers and date-times, each possibly nullable and with a default.
 */
import { p } from '@mikro-orm/core';
import type { z } from 'zod';

type Unwrap<Z> = Z extends z.ZodDefault<infer Inner> ? Unwrap<Inner> : Z;
type IsNullable<Z> = Unwrap<Z> extends z.ZodNullable<z.ZodType> ? true : false;
type Plain<Z> = Unwrap<Z> extends z.ZodNullable<infer Inner> ? Inner : Unwrap<Z>;
type StoredValue<Z> = Plain<Z> extends z.ZodISODateTime ? Date : z.output<Plain<Z>>;

/** The value a column holds on the entity, as MikroORM's `InferEntity` reads a property builder. */
type Column<Z> = { '~type'?: { value: StoredValue<Z> }; '~options'?: { nullable: IsNullable<Z> } };

export type Fields = Record<string, z.ZodType>;
export type Columns<F extends Fields> = { [K in keyof F]: Column<F[K]> };
/** The fields' values as stored on the entity: date-times as Dates. */
export type StoredValues<F extends Fields> = {
  [K in keyof F]: StoredValue<F[K]> | (IsNullable<F[K]> extends true ? null : never);
};

interface Described {
  nullable: boolean;
  kind: 'text' | 'boolean' | 'integer' | 'datetime';
  /** The column's database default: the field's zod default, when it is a plain value other than null. */
  fallback?: string | number | boolean;
}

function describe(name: string, schema: z.ZodType): Described {
  let nullable = false;
  let fallback: Described['fallback'];
  // biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definition, which is untyped here
  let def: any = schema._zod.def;
  while (def.type === 'default' || def.type === 'nullable') {
    if (def.type === 'nullable') nullable = true;
    if (def.type === 'default' && ['string', 'number', 'boolean'].includes(typeof def.defaultValue)) {
      fallback = def.defaultValue;
    }
    def = def.innerType._zod.def;
  }
  const described = (kind: Described['kind']): Described => ({
    nullable,
    kind,
    ...(fallback === undefined ? {} : { fallback }),
  });
  if (def.type === 'boolean') return described('boolean');
  if (def.type === 'number') return described('integer');
  if (def.type === 'string' && def.format === 'datetime') return described('datetime');
  if (def.type === 'string' && def.format === undefined) return described('text');
  throw new TypeError(`field ${name}: a ${def.type}${def.format ? ` (${def.format})` : ''} is not a plain column`);
}

const described = new WeakMap<Fields, (readonly [string, Described])[]>();

/** Each field's description, worked out once per set of fields (`toJson` runs for every todo of every page). */
function describeAll(fields: Fields): readonly (readonly [string, Described])[] {
  let all = described.get(fields);
  if (!all) {
    all = Object.entries(fields).map(([name, schema]) => [name, describe(name, schema)] as const);
    described.set(fields, all);
  }
  return all;
}

/** The entity properties of the fields, for `defineEntity({ properties: { ...columnsOf(fields) } })`. */
export function columnsOf<F extends Fields>(fields: F): Columns<F> {
  const builders = {
    text: () => p.text(),
    boolean: () => p.boolean(),
    integer: () => p.integer(),
    datetime: () => p.datetime(),
  };
  return Object.fromEntries(
    describeAll(fields).map(([name, { nullable, kind, fallback }]) => {
      const column = builders[kind]();
      const withDefault = fallback === undefined ? column : column.default(fallback);
      return [name, nullable ? withDefault.nullable() : withDefault];
    }),
  ) as unknown as Columns<F>;
}

/** Parsed input (date-times as strings) as the values to store (Dates); other keys pass through untouched. */
export function toStored<F extends Fields, V extends Partial<Record<keyof F, unknown>>>(fields: F, values: V) {
  const out: Record<string, unknown> = { ...values };
  for (const [name, { kind }] of describeAll(fields)) {
    const value = out[name];
    if (kind === 'datetime' && typeof value === 'string') out[name] = new Date(value);
  }
  return out as { [K in keyof V]: K extends keyof F ? StoredValues<F>[K] : V[K] };
}

/** The fields of a stored entity as JSON: Dates as RFC 3339 strings, an absent nullable value as null. */
export function toJson<F extends Fields>(
  fields: F,
  entity: Partial<Record<keyof F, unknown>>,
): { [K in keyof F]: z.output<F[K]> } {
  const out: Record<string, unknown> = {};
  for (const [name, { nullable }] of describeAll(fields)) {
    const value = entity[name];
    out[name] = value instanceof Date ? value.toISOString() : value === undefined && nullable ? null : value;
  }
  return out as { [K in keyof F]: z.output<F[K]> };
}
