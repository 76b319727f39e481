/**
 * The pool snapshot selection draws from: one integer weight per miner in a
 * Fenwick tree (binary indexed tree) of cumulative weights, so a weighted
 * draw is a binary descent (O(log n)) and a weight change (reputation
 * update, reservation, health) is O(log n). At 10^6 miners the tree is one
 * 8 MB Float64Array and a draw costs about 20 steps.
 */
import { InvalidWeightError } from './errors.ts'

export class MinerPool {
  /** number of miners (indices 0..size-1) */
  readonly size: number
  /** weight each miner has when not reserved (0 = not eligible) */
  private readonly base: Uint32Array
  /** 1 while a miner serves a session (its weight in the tree is 0) */
  private readonly reservedFlags: Uint8Array
  /** Fenwick tree over the effective weights, 1-based */
  private readonly tree: Float64Array
  private total: number
  private readonly topBit: number

  constructor (weights: ArrayLike<number>) {
    this.size = weights.length
    this.base = new Uint32Array(this.size)
    this.reservedFlags = new Uint8Array(this.size)
    this.tree = new Float64Array(this.size + 1)
    let total = 0
    for (let i = 0; i < this.size; i++) {
      const w = weights[i]
      checkWeight(i, w)
      this.base[i] = w
      this.tree[i + 1] += w
      total += w
      const parent = (i + 1) + ((i + 1) & -(i + 1))
      if (parent <= this.size) {
        this.tree[parent] += this.tree[i + 1]
      }
    }
    this.total = total
    let bit = 1
    while (bit * 2 <= this.size) {
      bit *= 2
    }
    this.topBit = bit
  }

  /** Sum of the weights of all selectable (eligible, unreserved) miners. */
  get totalWeight (): number {
    return this.total
  }

  /** The weight miner `i` has in draws right now (0 when reserved or ineligible). */
  effectiveWeight (i: number): number {
    return this.reservedFlags[i] === 1 ? 0 : this.base[i]
  }

  baseWeight (i: number): number {
    return this.base[i]
  }

  isReserved (i: number): boolean {
    return this.reservedFlags[i] === 1
  }

  /** Change a miner's weight (reputation, speed or health changed); a reserved miner keeps weight 0 until released. */
  setWeight (i: number, w: number): void {
    checkWeight(i, w)
    const old = this.base[i]
    if (old === w) {
      return
    }
    this.base[i] = w
    if (this.reservedFlags[i] === 0) {
      this.add(i, w - old)
    }
  }

  /** Take a miner out of the draw while it serves a session. */
  reserve (i: number): void {
    if (this.reservedFlags[i] === 1) {
      return
    }
    this.reservedFlags[i] = 1
    this.add(i, -this.base[i])
  }

  release (i: number): void {
    if (this.reservedFlags[i] === 0) {
      return
    }
    this.reservedFlags[i] = 0
    this.add(i, this.base[i])
  }

  /** Number of miners with a positive effective weight (O(n); for checks and reports). */
  countSelectable (): number {
    let n = 0
    for (let i = 0; i < this.size; i++) {
      if (this.reservedFlags[i] === 0 && this.base[i] > 0) {
        n++
      }
    }
    return n
  }

  /**
   * The miner whose cumulative-weight interval contains `r`, for
   * 0 ≤ r < totalWeight: the smallest i with w0 + … + wi > r.
   */
  find (r: number): number {
    let pos = 0
    let rem = r
    for (let bit = this.topBit; bit > 0; bit >>= 1) {
      const next = pos + bit
      if (next <= this.size && this.tree[next] <= rem) {
        pos = next
        rem -= this.tree[next]
      }
    }
    return pos // 0-based index of the miner = 1-based position - 1 + 1
  }

  /** Adjust the tree (internal; also used by selection to hide a drawn miner for the next draw). */
  add (i: number, delta: number): void {
    if (delta === 0) {
      return
    }
    for (let p = i + 1; p <= this.size; p += p & -p) {
      this.tree[p] += delta
    }
    this.total += delta
  }
}

function checkWeight (i: number, w: number): void {
  if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) {
    throw new InvalidWeightError(i, w)
  }
}
