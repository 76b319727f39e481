/**
 * Closed forms behind the sampling policy: sample sizes and detection /
 * escape probabilities. The simulator's tests check its measurements
 * against these.
 */
import { DEFAULT_CONFIDENCE, DEFAULT_MARGIN } from './constants.ts'

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile (p: number): number {
  if (!(p > 0 && p < 1)) {
    throw new RangeError(`probability must be in (0, 1), got ${p}`)
  }
  const a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
  const b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
  const c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
  const d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
  const low = 0.02425
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p))
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
  }
  if (p > 1 - low) {
    return -normalQuantile(1 - p)
  }
  const q = p - 0.5
  const r = q * q
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}

export interface SampleSizeOptions {
  /** two-sided confidence level; default 0.95 */
  confidence?: number
  /** half-width of the interval, as a proportion; default 0.01 */
  margin?: number
  /** assumed proportion (0.5 is the worst case); default 0.5 */
  proportion?: number
  /** finite population size; omit for Cochran's infinite-population formula */
  population?: number
}

/**
 * Cochran's sample size n0 = z² p (1-p) / e², rounded up, with the finite
 * population correction n0 / (1 + (n0-1)/N) when `population` is given.
 * Cortensor's docs quote n0 = 9,604 for 10^6 nodes at 95 % ± 1 % (z rounded to 1.96).
 */
export function sampleSize (options: SampleSizeOptions = {}): number {
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE
  const margin = options.margin ?? DEFAULT_MARGIN
  const p = options.proportion ?? 0.5
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`)
  }
  if (!(margin > 0 && margin < 1)) {
    throw new RangeError(`margin must be in (0, 1), got ${margin}`)
  }
  const z = normalQuantile(1 - (1 - confidence) / 2)
  // round z to 4 significant digits first, as the published tables do (1.95996 → 1.960)
  const zr = Math.round(z * 1000) / 1000
  const n0 = Math.ceil((zr * zr * p * (1 - p)) / (margin * margin) - 1e-9)
  if (options.population === undefined) {
    return n0
  }
  return Math.ceil(n0 / (1 + (n0 - 1) / options.population))
}

/** Probability a cheater is caught at least once in `trials` independent tasks, each caught with probability `perTask`. */
export function binomialDetection (perTask: number, trials: number): number {
  return 1 - Math.pow(1 - perTask, trials)
}

/** Per-task detection of a lazy miner with no redundancy to disagree with: sampled (p) and cheating (q). */
export function lazyDetectionRate (sampleRate: number, lazyProbability: number): number {
  return sampleRate * lazyProbability
}

/** ln C(n, k) via a log-gamma sum (exact enough for n up to 10^9). */
export function logChoose (n: number, k: number): number {
  if (k < 0 || k > n) {
    return -Infinity
  }
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
}

function logGamma (x: number): number {
  // Lanczos approximation, g = 7
  const g = 7
  const coef = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
  if (x < 0.5) {
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  }
  x -= 1
  let a = coef[0]
  const t = x + g + 0.5
  for (let i = 1; i < g + 2; i++) {
    a += coef[i] / (x + i)
  }
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a)
}

/** Hypergeometric P(X = k): k bad in a sample of n drawn without replacement from N holding K bad. */
export function hypergeometricPmf (N: number, K: number, n: number, k: number): number {
  return Math.exp(logChoose(K, k) + logChoose(N - K, n - k) - logChoose(N, n))
}

/** Probability that a sample of n (without replacement) from N containing K bad holds at least one bad. */
export function hypergeometricDetection (N: number, K: number, n: number): number {
  if (n > N - K) {
    return 1
  }
  return 1 - Math.exp(logChoose(N - K, n) - logChoose(N, n))
}

/**
 * Probability that a quorum of n drawn uniformly without replacement from a
 * pool of N with M dishonest is entirely dishonest: C(M, n) / C(N, n).
 * With N = Infinity it is f^n for f = M/N given as `M` ∈ [0, 1].
 */
export function allDishonestQuorum (N: number, M: number, n: number): number {
  if (N === Infinity) {
    return Math.pow(M, n)
  }
  if (n > M) {
    return 0
  }
  let p = 1
  for (let i = 0; i < n; i++) {
    p *= (M - i) / (N - i)
  }
  return p
}

/** Probability that more than half of a quorum of n (with replacement, fraction f dishonest) is dishonest. */
export function majorityDishonestQuorum (f: number, n: number): number {
  let p = 0
  for (let k = Math.floor(n / 2) + 1; k <= n; k++) {
    p += Math.exp(logChoose(n, k)) * Math.pow(f, k) * Math.pow(1 - f, n - k)
  }
  return p
}
