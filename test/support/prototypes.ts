/** A snapshot of the built-in prototypes, taken at import: every own key and what it holds. */
import assert from 'node:assert/strict';

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Map.prototype, Set.prototype, Promise.prototype, Error.prototype];
const describePrototype = (p: object) => Reflect.ownKeys(p).map((k) => {
  const d = Object.getOwnPropertyDescriptor(p, k) as PropertyDescriptor;
  return [k, d.value ?? d.get, d.set, d.writable, d.enumerable, d.configurable];
});
const snapshot = PROTOTYPES.map(describePrototype);

/** Fails when any built-in prototype gained, lost or changed a property (prototype pollution). */
export function assertPrototypesClean(): void {
  PROTOTYPES.forEach((p, i) => assert.deepStrictEqual(describePrototype(p), snapshot[i]));
}
