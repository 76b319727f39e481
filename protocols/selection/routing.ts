/**
 * A task's draw with its SLA and the pool's load: the same pure function for
 * the leader's draw, the followers' check of it, the client's look ahead and
 * the simulator. Passes, first that can fill the draw wins:
 *
 * (1) the SLA, busy miners (every sequence in use) skipped; (2) the SLA,
 * busy miners allowed (weighted down by their load); (3) with policy
 * `fallback` only: 1 and 2 again without the SLA.
 *
 * With none, NoEligibleMinerError names the filter that left too few miners.
 */
import { BUSY_LOAD_PERMILLE } from './constants.ts'
import { isEligible, poolFromRecords, selectMiners } from './draw.ts'
import { NoEligibleMinerError, NotEnoughMinersError } from './errors.ts'
import type { MinerRecord, SelectionFilter } from './draw.ts'
import type { DrawFilter } from './errors.ts'
import type { Sla } from './sla.ts'

export interface RoutedDraw {
  /** the model, and the session's SLA */
  model: string
  sla: Sla
  seed: Uint8Array
  count: number
  /** miners the task already had (never drawn again) */
  exclude?: readonly string[]
}

export interface RoutedResult {
  /** miner ids in draw order */
  miners: string[]
  /** the draw had to allow busy miners */
  busyAllowed: boolean
  /** the draw fell back to miners outside the SLA (policy `fallback`) */
  slaRelaxed: boolean
}

/** Draw with the passes above; throws NoEligibleMinerError when none fills the draw. */
export function routedDraw (records: readonly MinerRecord[], req: RoutedDraw): RoutedResult {
  const base: SelectionFilter = { model: req.model }
  const withSla: SelectionFilter = { ...base, ...req.sla.filter }
  const passes: Array<{ filter: SelectionFilter, busyAllowed: boolean, slaRelaxed: boolean }> = [
    { filter: { ...withSla, maxLoadPermille: BUSY_LOAD_PERMILLE }, busyAllowed: false, slaRelaxed: false },
    { filter: withSla, busyAllowed: true, slaRelaxed: false }
  ]
  if (req.sla.policy === 'fallback' && Object.keys(req.sla.filter).length > 0) {
    passes.push({ filter: { ...base, maxLoadPermille: BUSY_LOAD_PERMILLE }, busyAllowed: false, slaRelaxed: true })
    passes.push({ filter: base, busyAllowed: true, slaRelaxed: true })
  }
  for (const pass of passes) {
    const snapshot = poolFromRecords(records, pass.filter)
    for (const id of req.exclude ?? []) {
      const i = snapshot.ids.indexOf(id)
      if (i >= 0 && snapshot.pool.effectiveWeight(i) > 0) {
        snapshot.pool.reserve(i)
      }
    }
    try {
      const picks = selectMiners(snapshot.pool, req.seed, req.count)
      return { miners: Array.from(picks, i => snapshot.ids[i]), busyAllowed: pass.busyAllowed, slaRelaxed: pass.slaRelaxed }
    } catch (err) {
      if (!(err instanceof NotEnoughMinersError)) {
        throw err
      }
    }
  }
  const { filter, left } = emptyingFilter(records, withSla, req.count, req.exclude)
  throw new NoEligibleMinerError(filter ?? 'reserved', req.count, left, `SLA ${req.sla.name}`)
}

/** Whether `claimed` (as a set) is the draw these records give. */
export function routedDrawHolds (records: readonly MinerRecord[], req: RoutedDraw, claimed: readonly string[]): boolean {
  let expected: string[]
  try {
    expected = routedDraw(records, req).miners
  } catch (err) {
    if (err instanceof NoEligibleMinerError) {
      return false
    }
    throw err
  }
  if (expected.length !== claimed.length) {
    return false
  }
  const want = new Set(expected)
  return claimed.every(m => want.has(m.toLowerCase()))
}

/**
 * Whether `claimed` is a draw these records allow, without reproducing it:
 * distinct miners, as many as asked, each healthy, serving the model, not
 * reserved by another session and meeting the SLA (any miner of the model
 * when the policy falls back). For a draw made from a later pool than the
 * checker's (node/roles/oracle/assigner.ts).
 */
export function routedDrawAllowed (records: readonly MinerRecord[], req: RoutedDraw, claimed: readonly string[]): boolean {
  const ids = claimed.map(m => m.toLowerCase())
  if (ids.length !== req.count || new Set(ids).size !== ids.length) {
    return false
  }
  const filter: SelectionFilter = req.sla.policy === 'fallback' ? { model: req.model } : { model: req.model, ...req.sla.filter }
  return ids.every(id => {
    const m = records.find(r => r.id === id)
    return m != null && !m.reserved && m.reputation > 0 && isEligible(m, filter)
  })
}

/**
 * The first filter, in the order model → healthy → gpu → level → tokens/s →
 * first token → reserved, after which fewer than `count` miners are left
 * (`reserved`: reservations by other sessions, or the task's own earlier
 * miners), and how many it left; no filter when `count` are left after all.
 */
export function emptyingFilter (records: readonly MinerRecord[], filter: SelectionFilter, count: number, exclude: readonly string[] = []): { filter?: DrawFilter, left: number } {
  const steps: Array<[DrawFilter, (m: MinerRecord) => boolean]> = [
    ['model', m => m.models.includes(filter.model)],
    ['healthy', m => m.healthy],
    ['gpu', m => filter.gpuOnly !== true || m.gpu === true],
    ['level', m => m.level >= (filter.minLevel ?? 0)],
    ['tokens-per-sec', m => m.tokensPerSec >= (filter.minTokensPerSec ?? 0)],
    ['first-token', m => filter.maxFirstTokenMs == null || (m.firstTokenMs != null && m.firstTokenMs <= filter.maxFirstTokenMs)],
    ['reserved', m => !m.reserved && m.reputation > 0 && !exclude.includes(m.id)]
  ]
  let left = records
  for (const [name, keep] of steps) {
    left = left.filter(keep)
    if (left.length < count) {
      return { filter: name, left: left.length }
    }
  }
  return { left: left.length }
}
