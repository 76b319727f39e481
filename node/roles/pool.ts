/** The pool view lives in protocols/pool/view.ts (browser-safe: clients in a page keep one too). */
export * from '../../protocols/pool/view.ts'
