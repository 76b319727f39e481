/** The direct token stream lives in protocols/stream (browser-safe: the page's client reads it too). */
export * from '../../../protocols/stream/index.ts'
