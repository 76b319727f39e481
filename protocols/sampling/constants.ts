/** Domain tag of sampling seeds (distinct from selection's so the two draws are independent). */
export const SAMPLING_DOMAIN = 'cortensor/sampling/1'

/** Confidence and margin of Cortensor's daily node-check sizing (docs: 9,604 of 10^6 nodes → 95 % ± 1 %). */
export const DEFAULT_CONFIDENCE = 0.95
export const DEFAULT_MARGIN = 0.01
