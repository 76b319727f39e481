/**
 * The node pool on the DHT: pool keys per (network, model, hardware class,
 * level), providing them, and looking miners up. Browser-safe.
 */
export * from './keys.ts'
export * from './dht.ts'
