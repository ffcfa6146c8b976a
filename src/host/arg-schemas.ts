/**
 * Runtime argument schemas per exposed method, in any library that implements Standard Schema
 * (zod, valibot, arktype...). Types are not validation: the codec only guarantees allow-listed
 * types, so a method that needs a shape declares it and gets BAD_ARGUMENTS with the issues otherwise.
 * Schemas are recorded by function identity, like exposure.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCode, UplinkError } from '../protocol/errors.js';

export type ArgsSchema = StandardSchemaV1<unknown, readonly unknown[]>;

const schemas = new WeakMap<Function, ArgsSchema>();

/** Validates a method's argument list (a tuple schema) before the call: `@expose @validate(z.tuple([z.number()]))`. */
export function validate(schema: ArgsSchema) {
  return (fn: Function, _context: ClassMethodDecoratorContext): void => {
    schemas.set(fn, schema);
  };
}

export function argsSchemaOf(fn: Function): ArgsSchema | undefined {
  return schemas.get(fn);
}

/** The validated (possibly transformed) arguments; BAD_ARGUMENTS listing each issue otherwise. */
export function checkArgs(schema: ArgsSchema, args: unknown[]): unknown[] {
  const result = schema['~standard'].validate(args);
  if (result instanceof Promise) throw new TypeError('asynchronous argument schemas are not supported');
  if (result.issues) {
    const issues = result.issues.slice(0, 16).map((issue) => ({
      message: issue.message,
      path: (issue.path ?? []).map((p) => {
        const key = typeof p === 'object' ? p.key : p;
        return typeof key === 'number' ? key : String(key);
      }),
    }));
    throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'arguments do not match the method\'s schema', { issues });
  }
  if (!Array.isArray(result.value)) throw new TypeError('an argument schema must produce an array');
  return result.value;
}
