/**
 * The member table of a registered object: built once at registration, it is the only thing dispatch
 * consults. Dispatch never indexes the target with a client string; it looks the name up in this Map
 * and calls the function captured here, so instance fields cannot shadow an exposed method.
 */
import { argsSchemaOf, type ArgsSchema } from './arg-schemas.js';
import { exposeFlags } from './expose.js';
import { argsJsonSchema, parameterNames, type Signature } from './signatures.js';

export type Member =
  | { kind: 'method'; fn: Function; oneway: boolean; streams: boolean; args: ArgsSchema | undefined }
  | { kind: 'property'; get: Function | undefined; set: Function | undefined };

export type MemberTable = ReadonlyMap<string, Member>;

/** Names that exist on every object or function, or that turn an object into a thenable. */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  ...Object.getOwnPropertyNames(Function.prototype),
  'then', 'catch', 'finally', 'prototype', '__proto__',
]);

/** Why a name can never be exposed, or undefined when it may be. */
export function refusedNameReason(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'member names must be non-empty strings';
  if (name.startsWith('_') || name.startsWith('#')) return `'${name}' is private by naming rule`;
  if (/[./\\\s]/.test(name)) return `'${name}' is a dotted or path name`;
  if (RESERVED_NAMES.has(name)) return `'${name}' is an Object or Function prototype name`;
  return undefined;
}

function isGeneratorFunction(fn: Function): boolean {
  const tag = Object.prototype.toString.call(fn);
  return tag === '[object AsyncGeneratorFunction]' || tag === '[object GeneratorFunction]';
}

function checkName(name: string): void {
  const reason = refusedNameReason(name);
  if (reason) throw new TypeError(`cannot expose ${reason}`);
}

/** Members decorated with @expose / @oneway on a class prototype chain (most derived definition wins). */
export function decoratedMembers(prototype: object): Map<string, Member> {
  const table = new Map<string, Member>();
  const seen = new Set<string>();
  for (let p: object | null = prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const d = Object.getOwnPropertyDescriptor(p, name) as PropertyDescriptor;
      const methodFlags = exposeFlags(d.value);
      const getFlags = exposeFlags(d.get);
      const setFlags = exposeFlags(d.set);
      if (!methodFlags && !getFlags && !setFlags) continue;
      checkName(name);
      if (methodFlags) {
        table.set(name, { kind: 'method', fn: d.value, oneway: methodFlags.oneway, streams: methodFlags.stream || isGeneratorFunction(d.value), args: argsSchemaOf(d.value) });
      } else {
        table.set(name, { kind: 'property', get: getFlags ? d.get : undefined, set: setFlags ? d.set : undefined });
      }
    }
  }
  return table;
}

/**
 * Members of a plain object named in a registration-time allow-list. Functions become methods,
 * accessors become properties, other values become read-only properties.
 */
export function listedMembers(
  target: object, names: readonly string[], onewayNames: readonly string[] = [], schemas: Readonly<Record<string, ArgsSchema>> = {},
  streamNames: readonly string[] = [],
): Map<string, Member> {
  const table = new Map<string, Member>();
  const oneways = new Set(onewayNames);
  const streams = new Set(streamNames);
  for (const name of [...names, ...onewayNames, ...streamNames]) {
    if (table.has(name)) continue;
    checkName(name);
    let d: PropertyDescriptor | undefined;
    for (let p: object | null = target; p && p !== Object.prototype && !d; p = Object.getPrototypeOf(p)) {
      d = Object.getOwnPropertyDescriptor(p, name);
    }
    if (!d) throw new TypeError(`cannot expose '${name}': no such member`);
    if (typeof d.value === 'function') {
      table.set(name, { kind: 'method', fn: d.value, oneway: oneways.has(name), streams: streams.has(name) || isGeneratorFunction(d.value), args: Object.hasOwn(schemas, name) ? schemas[name] : argsSchemaOf(d.value) });
    } else if (oneways.has(name) || streams.has(name)) {
      throw new TypeError(`cannot expose '${name}' as ${oneways.has(name) ? 'oneway' : 'a stream'}: not a method`);
    } else if (d.get || d.set) {
      table.set(name, { kind: 'property', get: d.get, set: d.set });
    } else {
      table.set(name, { kind: 'property', get: function (this: Record<string, unknown>) { return this[name]; }, set: undefined });
    }
  }
  for (const name of Object.keys(schemas)) {
    if (table.get(name)?.kind !== 'method') throw new TypeError(`schema for '${name}', which is not an exposed method`);
  }
  return table;
}

export interface ObjectMetadata {
  id: string;
  methods: string[];
  oneway: string[];
  streams: string[];
  properties: Array<{ name: string; readable: boolean; writable: boolean }>;
  /** One per method, in the order of `methods`: parameter names, and the argument schema as JSON Schema when declared. */
  signatures: Signature[];
}

export function describeMembers(id: string, table: MemberTable, visible: (name: string) => boolean): ObjectMetadata {
  const meta: ObjectMetadata = { id, methods: [], oneway: [], streams: [], properties: [], signatures: [] };
  for (const [name, m] of table) {
    if (!visible(name)) continue;
    if (m.kind === 'property') meta.properties.push({ name, readable: !!m.get, writable: !!m.set });
    else {
      meta.methods.push(name);
      const args = argsJsonSchema(m.args);
      meta.signatures.push({ name, params: parameterNames(m.fn), ...(args === undefined ? {} : { args }) });
      if (m.oneway) meta.oneway.push(name);
      if (m.streams) meta.streams.push(name);
    }
  }
  return meta;
}
