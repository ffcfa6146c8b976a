/**
 * Shrinks a failing input list by halves: keeps whichever half still reproduces the fault, until
 * neither half alone does (the fault needs both) or one item is left. `reproduces` runs the items
 * against a healthy system and restores it afterwards; it is called at most `budget` times.
 */
export async function minimize<T>(items: readonly T[], reproduces: (subset: readonly T[]) => Promise<boolean>, budget = 24): Promise<{ items: readonly T[]; confirmed: boolean; tries: number }> {
  let current = items;
  let tries = 0;
  if (!(await reproduces(current))) return { items, confirmed: false, tries: 1 };
  tries++;
  while (current.length > 1 && tries < budget) {
    const half = Math.ceil(current.length / 2);
    const first = current.slice(0, half);
    const second = current.slice(half);
    tries++;
    if (await reproduces(first)) {
      current = first;
      continue;
    }
    tries++;
    if (await reproduces(second)) {
      current = second;
      continue;
    }
    break;
  }
  return { items: current, confirmed: true, tries };
}
