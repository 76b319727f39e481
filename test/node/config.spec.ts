/**
 * Option values checked against their schemas (node/config-values.ts): each
 * refusal is a ConfigError whose message names where the value came from
 * (flag, variable, file key) and says what is wrong, word for word.
 */
import { expect } from 'aegir/chai'
import { ConfigError, resolveConfig } from '../../node/config.ts'
import type { RawConfig } from '../../node/config.ts'

async function refusal (flags: RawConfig, env: Record<string, string> = {}): Promise<string> {
  try {
    await resolveConfig({ flags, env })
  } catch (err) {
    expect(err).to.be.an.instanceOf(ConfigError)
    expect((err as ConfigError).name).to.equal('ConfigError')
    return (err as Error).message
  }
  expect.fail('no ConfigError')
}

describe('config: option values', () => {
  it('refuses numbers out of range or of the wrong kind, naming the flag or variable', async () => {
    expect(await refusal({ httpPort: '65536' })).to.equal('--http-port: "65536" is not a port number (0-65535)')
    expect(await refusal({ httpPort: ' ' })).to.equal('--http-port: " " is not a port number (0-65535)')
    expect(await refusal({}, { CORTENSOR_HTTP_PORT: '1.5' })).to.equal('CORTENSOR_HTTP_PORT: "1.5" is not a port number (0-65535)')
    expect(await refusal({ sampleRate: '1.01' })).to.equal('--sample-rate: "1.01" is not a fraction in [0, 1]')
    expect(await refusal({ threads: '0' })).to.equal('--threads: "0" is not a whole number from 1 to 1024')
    expect(await refusal({ sequences: 'x' })).to.equal('--sequences: "x" is not a whole number from 1 to 256')
  })

  it('refuses words that are not the option\'s, and reads the ones that are', async () => {
    expect(await refusal({ dhtClient: 'maybe' })).to.equal('--dht-client: "maybe" is not a boolean (true/false)')
    expect(await refusal({ dhtClient: 'constructor' })).to.equal('--dht-client: "constructor" is not a boolean (true/false)')
    expect(await refusal({ gpu: 'opencl' })).to.equal('--gpu: "opencl" is not a GPU backend (auto, cpu, vulkan, cuda, metal)')
    expect(await refusal({ gpuLayers: '1234567' })).to.equal('--gpu-layers: "1234567" is not a number of layers (a whole number >= 0, auto or max)')
    expect(await refusal({ role: 'miner,seer' })).to.equal('--role: unknown role "seer" (roles: bootstrap, miner, oracle, router)')
    expect(await refusal({ role: ',' })).to.equal('--role: at least one role is needed (bootstrap, miner, oracle, router)')
    expect(await refusal({ network: 'Main' })).to.equal('--network: must be 1-32 lowercase letters, digits or dashes')
    const config = await resolveConfig({ flags: { dhtClient: 'YES', gpu: 'CUDA', gpuLayers: 'Max', role: 'router,router', httpPort: ' 80 ' }, env: {} })
    expect(config).to.deep.include({ dhtClient: true, gpu: 'cuda', gpuLayers: 'max', roles: ['router'], httpPort: 80 })
    // task blocks are not announced on the DHT unless the operator asks
    expect((await resolveConfig({ flags: {}, env: {} })).announceBlocks).to.equal(false)
    expect((await resolveConfig({ flags: {}, env: { CORTENSOR_ANNOUNCE_BLOCKS: 'true' } })).announceBlocks).to.equal(true)
    expect(await refusal({ announceBlocks: 'often' })).to.equal('--announce-blocks: "often" is not a boolean (true/false)')
    // a miner's heartbeat period: the role's default unless given, whole seconds up to an hour
    expect((await resolveConfig({ flags: {}, env: {} })).heartbeatInterval).to.equal(undefined)
    expect((await resolveConfig({ flags: {}, env: { CORTENSOR_HEARTBEAT_INTERVAL: '120' } })).heartbeatInterval).to.equal(120)
    expect(await refusal({ heartbeatInterval: '0' })).to.equal('--heartbeat-interval: "0" is not a whole number from 1 to 3600')
    expect(await refusal({ heartbeatInterval: '2.5' })).to.equal('--heartbeat-interval: "2.5" is not a whole number from 1 to 3600')
  })

  it('refuses ids, addresses and list elements that do not match, naming the element', async () => {
    expect(await refusal({ session: '000' })).to.equal('--session: "000" is not a session id (a positive integer)')
    expect(await refusal({ session: -1 })).to.equal('--session: "-1" is not a session id (a positive integer)')
    expect(await refusal({ hub: '0x12' })).to.equal('--hub: "0x12" is not a 0x-prefixed 20-byte address')
    expect(await refusal({ hub: 5 })).to.equal('--hub: must be a non-empty string')
    expect(await refusal({ listen: ['/ip4/127.0.0.1/tcp/0', 7] })).to.equal('--listen[1]: must be a string')
    expect(await refusal({ queueTimeouts: { ackMs: 86_400_001 } })).to.equal('--queue-timeouts: ackMs: "86400001" is not a whole number of milliseconds from 1 to 86400000')
    expect((await resolveConfig({ flags: { session: 7, queueTimeouts: 'ackMs=5' }, env: {} })).session).to.equal(7n)
  })
})
