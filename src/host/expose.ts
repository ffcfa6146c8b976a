/**
 * Exposure decorators (TC39 standard decorators). A decorated function is remembered by identity, so
 * exposure is decided by the exact function found on the object, never by its name: an undecorated
 * override in a subclass hides an exposed base method, and a base method is callable only if it was
 * itself decorated.
 */

export interface ExposeFlags { oneway: boolean; stream: boolean }

const exposedFunctions = new WeakMap<Function, ExposeFlags>();

type MemberContext = ClassMethodDecoratorContext | ClassGetterDecoratorContext | ClassSetterDecoratorContext;

function mark(fn: Function, context: MemberContext, flags: ExposeFlags): void {
  if (context.private) throw new TypeError(`@expose cannot be used on private member ${String(context.name)}`);
  if (context.static) throw new TypeError(`@expose cannot be used on static member ${String(context.name)}`);
  exposedFunctions.set(fn, flags);
}

/** Makes a method, getter or setter callable remotely. Getters and setters are exposed one by one. */
export function expose(fn: Function, context: MemberContext): void {
  mark(fn, context, { oneway: false, stream: false });
}

/**
 * Exposes a method that returns a stream without being a generator function (an async method that
 * resolves to a ReadableStream or an async iterable). Generator methods need only @expose. A stream
 * request reaches only stream members, so a plain method never runs for one.
 */
export function stream(fn: Function, context: ClassMethodDecoratorContext): void {
  mark(fn, context, { oneway: false, stream: true });
}

/** Exposes a method as oneway: the caller gets no reply; failures go to the gateway's error hook. */
export function oneway(fn: Function, context: ClassMethodDecoratorContext): void {
  mark(fn, context, { oneway: true, stream: false });
}

export function exposeFlags(fn: unknown): ExposeFlags | undefined {
  return typeof fn === 'function' ? exposedFunctions.get(fn) : undefined;
}
