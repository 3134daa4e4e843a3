const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `10s`, `15m`, `12h`, `7d` or a bare number of milliseconds. Returns null when malformed. */
export function parseDuration(value: string): number | null {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) return null;
  const amount = Number(match[1]);
  const unit = UNITS[match[2] ?? 'ms'] ?? 1;
  const result = amount * unit;
  return Number.isSafeInteger(result) ? result : null;
}
