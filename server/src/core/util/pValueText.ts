// How a p-value reads, the one implementation for every view: the engine's reason lines, the protocol's
// wording (hovers, lenses, the CLI, the client). Every p printed is a certified bound: at a test's
// floor it reads "p ≤ floor (the test's floor)"; beyond double range, "p < 1e-N".

/** log10 of a natural-log p-value. */
function toLog10(logP: number): number {
  return logP / Math.LN10;
}

/** "3.2e-5" from a natural-log value (one decimal of mantissa), "1e-1234" below 1e-300. */
function formatMagnitude(logValue: number): string {
  const decimalLog = toLog10(logValue);
  if (decimalLog < -300) return `1e${Math.ceil(decimalLog)}`;
  let exponent = Math.floor(decimalLog);
  let mantissa = Math.round(10 ** (decimalLog - exponent) * 10) / 10;
  if (mantissa >= 10) {
    mantissa = 1;
    exponent += 1;
  }
  return `${mantissa.toFixed(1)}e${exponent}`;
}

/** A p-value given as its natural log, with the floor (natural log) of the test that produced it. */
export function formatPValue(logP: number, floorLogP?: number): string {
  if (Number.isNaN(logP)) return 'p = NaN';
  if (floorLogP !== undefined && floorLogP < 0 && logP <= floorLogP * (1 - 1e-12)) return `p ≤ ${formatMagnitude(floorLogP)} (the test's floor)`;
  if (logP >= 0) return 'p = 1';
  if (logP === -Infinity) return 'p = 0';
  const p = Math.exp(logP);
  if (p >= 1e-3) return `p = ${Number(p.toPrecision(2))}`;
  const decimalLog = toLog10(logP);
  if (decimalLog >= -300) return `p = ${formatMagnitude(logP)}`;
  return `p < 1e${Math.ceil(decimalLog)}`;
}
