/** Small helpers the standalone bench scripts share. */

/** A positive integer command-line option, `--name N`. */
export function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

/** Median and range of repeated rates. */
export function summary(rates: number[]): { median: number; min: number; max: number } {
  const s = [...rates].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
}
