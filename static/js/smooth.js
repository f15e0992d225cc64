// Exponential moving average as TensorBoard draws it: s_t = β s_(t-1) + (1 - β) x_t with s_0 = 0,
// shown debiased as s_t / (1 - β^t), so the curve starts at the first value instead of near zero.

/**
 * Smooth `values` with weight `beta` in [0, 1). Missing or non-finite values stay null and do not
 * count as a step (t counts the values seen), so a column that starts later starts unbiased too.
 */
export function ema(values, beta) {
  if (!(beta > 0)) return values.map((v) => (Number.isFinite(v) ? v : null));
  let s = 0;
  let t = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return null;
    t += 1;
    s = beta * s + (1 - beta) * v;
    return s / (1 - beta ** t);
  });
}
