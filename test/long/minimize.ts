/**
 * Delta debugging (Zeller's ddmin): shrinks a failing input list to one where removing any of the
 * `n` chunks it is cut into makes the fault go away, by trying each chunk alone and each complement
 * (so two inputs far apart that cause the fault together both survive). `reproduces` runs a subset
 * against a healthy system and restores it afterwards; it is called at most `budget` times.
 */
export async function minimize<T>(items: readonly T[], reproduces: (subset: readonly T[]) => Promise<boolean>, budget = 40): Promise<{ items: readonly T[]; confirmed: boolean; tries: number }> {
  let tries = 1;
  if (!(await reproduces(items))) return { items, confirmed: false, tries };
  let current = items;
  let n = 2;
  while (current.length > 1 && tries < budget) {
    const chunks = split(current, n);
    const smaller = await firstReproducing([...chunks, ...(n > 2 ? chunks.map((_, i) => chunks.filter((__, j) => j !== i).flat()) : [])], reproduces, budget - tries);
    tries += smaller.tries;
    if (smaller.found) {
      current = smaller.found;
      n = chunks.includes(smaller.found) ? 2 : Math.max(n - 1, 2);
    } else if (n < current.length) n = Math.min(2 * n, current.length);
    else break;
  }
  return { items: current, confirmed: true, tries };
}

async function firstReproducing<T>(candidates: T[][], reproduces: (subset: readonly T[]) => Promise<boolean>, budget: number): Promise<{ found?: T[]; tries: number }> {
  let tries = 0;
  for (const candidate of candidates) {
    if (tries >= budget) break;
    tries++;
    if (await reproduces(candidate)) return { found: candidate, tries };
  }
  return { tries };
}

/** `n` nearly equal consecutive chunks. */
function split<T>(items: readonly T[], n: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < n; i++) chunks.push(items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)));
  return chunks.filter((c) => c.length > 0);
}
