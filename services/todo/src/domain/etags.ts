/**
 * Entity tags from the version (RFC 9110 §8.8.3): strong, `"v<version>"`. A tag says nothing but a counter
 * of the caller's own todo.
 */
export const etagOf = (version: number): string => `"v${version}"`;

export type Precondition = { any: true } | { versions: number[] };

const TAG = /^(W\/)?"v(\d{1,9})"$/;

/** Parses If-Match / If-None-Match. Weak tags are kept apart: If-Match compares strongly (§13.1.1). */
export function parsePrecondition(header: string | undefined, comparison: 'strong' | 'weak'): Precondition | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.trim() === '*') return { any: true };
  const versions: number[] = [];
  for (const part of header.split(',')) {
    const match = TAG.exec(part.trim());
    if (match && (comparison === 'weak' || !match[1])) versions.push(Number(match[2]));
  }
  // A list that names no tag of ours can match nothing; keep it as an empty list, not as "no condition".
  return { versions };
}

export const matches = (precondition: Precondition, version: number): boolean =>
  'any' in precondition || precondition.versions.includes(version);
