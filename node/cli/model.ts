import { generateModel, inspectGguf, isPresetName, PRESET_NAMES } from '../inference/gguf/index.ts'
import { ModelNameError } from '../inference/model-names.ts'
import { CliUsageError, InvalidOptionError } from './errors.ts'
import { print, progress, say } from './output.ts'
import type { GgufSummary, TensorTypeName } from '../inference/gguf/index.ts'
import type { Command } from 'commander'

const TYPES: TensorTypeName[] = ['f32', 'f16', 'q8_0']

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map(s => s.trim()).filter(Boolean)]
}

function formatBytes (n: number): string {
  if (n >= 1024 ** 2) {
    return `${(n / 1024 ** 2).toFixed(1)} MiB`
  }
  if (n >= 1024) {
    return `${(n / 1024).toFixed(1)} KiB`
  }
  return `${n} B`
}

function formatSummary (s: GgufSummary): string {
  const lines = [
    `model id:       ${s.modelId}`,
    `name:           ${s.name ?? '-'}`,
    `architecture:   ${s.architecture}`,
    `parameters:     ${s.parameters.toLocaleString('en-US')}`,
    `context length: ${s.contextLength ?? '-'}`,
    `embedding:      ${s.embeddingLength ?? '-'}`,
    `blocks:         ${s.blockCount ?? '-'}`,
    `vocabulary:     ${s.vocabularySize ?? '-'}`,
    `tensors:        ${s.tensorCount} (${Object.entries(s.tensorTypes).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    `size:           ${s.sizeBytes} bytes (${formatBytes(s.sizeBytes)})`
  ]
  return lines.join('\n')
}

/** The names registry of the data directory the flags (or the config) name; loaded only when a command runs. */
async function openNames (opts: { dataDir?: string, config?: string }): Promise<import('../inference/model-names.ts').ModelNames> {
  const { resolveConfig } = await import('../config.ts')
  const { ModelNames } = await import('../inference/model-names.ts')
  const config = await resolveConfig({ flags: { dataDir: opts.dataDir, config: opts.config } })
  return ModelNames.open(config.dataDir).catch(rethrowNameError)
}

/** A bad name or a broken names file is a usage error naming the problem (exit code 2). */
function rethrowNameError (err: any): never {
  throw err instanceof ModelNameError ? new CliUsageError(err.message) : err
}

/** `cortensor model …` commands (generate, info, add, list, remove, fetch). */
export function registerModelCommands (program: Command): void {
  const model = program.command('model').description('Generate and inspect GGUF models')

  model.command('generate')
    .description('Write a deterministic llama-architecture GGUF with seeded random weights (same preset + seed → same bytes)')
    .requiredOption('--preset <name>', `model size: ${PRESET_NAMES.join('|')}`)
    .option('--seed <n>', 'weight seed, integer 0..4294967295', '1')
    .option('--type <type>', `matrix type: ${TYPES.join('|')} (default: the preset's)`)
    .requiredOption('--out <file>', 'output .gguf path')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { preset: string, seed: string, type?: string, out: string, json?: boolean }) => {
      if (!isPresetName(opts.preset)) {
        throw new InvalidOptionError('--preset', `must be one of ${PRESET_NAMES.join(', ')}, got "${opts.preset}"`)
      }
      if (!/^\d+$/.test(opts.seed) || Number(opts.seed) > 0xffffffff) {
        throw new InvalidOptionError('--seed', `must be an integer in 0..4294967295, got "${opts.seed}"`)
      }
      if (opts.type != null && !TYPES.includes(opts.type as TensorTypeName)) {
        throw new InvalidOptionError('--type', `must be one of ${TYPES.join(', ')}, got "${opts.type}"`)
      }
      const show = opts.preset === 'tiny' ? undefined : progress(`writing ${opts.out}`)
      try {
        await generateModel(opts.out, { preset: opts.preset, seed: Number(opts.seed), type: opts.type as TensorTypeName | undefined, onProgress: show })
      } catch (err: any) {
        if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR') {
          throw new InvalidOptionError('--out', `cannot write ${opts.out} (${err.code})`)
        }
        throw err
      }
      const summary = await inspectGguf(opts.out)
      if (opts.json === true) {
        print(JSON.stringify(summary))
      } else {
        say(`wrote ${opts.out}`)
        print(formatSummary(summary))
      }
    })

  model.command('add')
    .description('Give a model a human name: the router lists it beside the id and accepts it as `model` (the id stays the sha256 of the file)')
    .argument('<name>', 'the name, e.g. llama-3-8b')
    .argument('<file>', 'the GGUF file (hashed for its id)')
    .option('--data-dir <dir>', 'the node\'s data directory; names live in <data-dir>/models.json (default: ~/.cortensor)')
    .option('--config <file>', 'node config file to take dataDir from')
    .option('--json', 'print as JSON')
    .action(async (name: string, file: string, opts: { dataDir?: string, config?: string, json?: boolean }) => {
      const names = await openNames(opts)
      try {
        await inspectGguf(file, { computeId: false })
      } catch (err: any) {
        if (typeof err?.name === 'string' && /^(Gguf|ModelNotFound)/.test(err.name)) {
          throw new CliUsageError(err.message)
        }
        throw err
      }
      const entry = await names.add(name, file).catch(rethrowNameError)
      print(opts.json === true ? JSON.stringify(entry) : `${entry.name} → ${entry.id}`)
    })

  model.command('list')
    .description('The model names of this node and the models it shares, with their CIDs (<data-dir>/models.json)')
    .option('--data-dir <dir>', 'the node\'s data directory (default: ~/.cortensor)')
    .option('--config <file>', 'node config file to take dataDir from')
    .option('--json', 'print as JSON')
    .action(async (opts: { dataDir?: string, config?: string, json?: boolean }) => {
      const names = await openNames(opts)
      const list = names.list()
      const shared = names.shares()
      if (opts.json === true) {
        print(JSON.stringify(list))
        return
      }
      const cidOf = (id: string): string => { const c = names.shareOf(id)?.cid; return c != null ? `  ${c}` : '' }
      const lines = list.map(n => `${n.name}  ${n.id}${cidOf(n.id)}${n.path != null ? `  ${n.path}` : ''}`)
      // models shared with the network (a miner's, or fetched) that have no name
      lines.push(...shared.filter(m => names.nameOf(m.id) == null).map(m => `-  ${m.id}  ${m.cid}  ${m.path}`))
      print(lines.join('\n') || '(no names)')
    })

  model.command('remove')
    .description('Remove a model name')
    .argument('<name>', 'the name')
    .option('--data-dir <dir>', 'the node\'s data directory (default: ~/.cortensor)')
    .option('--config <file>', 'node config file to take dataDir from')
    .action(async (name: string, opts: { dataDir?: string, config?: string }) => {
      if (!(await (await openNames(opts)).remove(name))) {
        throw new CliUsageError(`no model is named "${name}"`)
      }
      say(`removed ${name}`)
    })

  model.command('fetch')
    .description('Fetch a model from the peers that serve it into <data-dir>/models/<sha256>.gguf: hash-checked, resumed where a stopped fetch left off')
    .argument('<model>', 'the model id (sha256, 0x optional) or the model CID (its UnixFS file)')
    .option('--bootstrap <multiaddr>', 'a peer to join the mesh through, /…/p2p/<peer id>; repeatable or comma-separated', collect)
    .option('--network <name>', 'network name (default: cortensor)')
    .option('--listen <multiaddr>', 'listen address, repeatable or comma-separated', collect)
    .option('--data-dir <dir>', 'the node\'s data directory (default: ~/.cortensor)')
    .option('--config <file>', 'node config file to take dataDir, network, bootstrap from')
    .option('--timeout <seconds>', 'how long to look for a serving peer', '60')
    .option('--json', 'print { path, id } as JSON')
    .action(async (ref: string, opts: { bootstrap?: string[], network?: string, listen?: string[], dataDir?: string, config?: string, timeout: string, json?: boolean }) => {
      const { parseModelRef } = await import('../../protocols/models/index.ts')
      if (parseModelRef(ref) == null) {
        throw new CliUsageError(`"${ref}" is neither a model id (0x + 64 hex digits) nor a CID`)
      }
      if (!/^\d+$/.test(opts.timeout) || Number(opts.timeout) < 1) {
        throw new InvalidOptionError('--timeout', `must be a whole number of seconds, at least 1, got "${opts.timeout}"`)
      }
      const { resolveConfig } = await import('../config.ts')
      const { CortensorNode } = await import('../node.ts')
      const { resolveModelFiles } = await import('../models/index.ts')
      const config = await resolveConfig({ flags: { dataDir: opts.dataDir, config: opts.config, network: opts.network, bootstrap: opts.bootstrap, listen: opts.listen } })
      const node = new CortensorNode(config)
      const tty = process.stderr.isTTY === true
      const stop = new AbortController()
      const onSignal = (): void => { stop.abort() }
      process.once('SIGINT', onSignal)
      try {
        await node.start()
        const [path] = await resolveModelFiles(node, [ref], {
          say,
          signal: stop.signal,
          discoveryTimeoutMs: Number(opts.timeout) * 1000,
          progress: { tty, write: (text) => { process.stderr.write(text) }, line: say }
        }).catch((err: any) => {
          throw /^(NoModelProvider|ModelHashMismatch|InvalidModelRecord)Error$/.test(err?.name) ? new CliUsageError(err.message) : err
        })
        const { ModelNames } = await import('../inference/model-names.ts')
        const id = (await ModelNames.open(config.dataDir)).shares().findLast(m => m.path === path)?.id ?? await (await import('../inference/gguf/inspect.ts')).modelIdOf(path)
        print(opts.json === true ? JSON.stringify({ path, id }) : path)
      } finally {
        process.off('SIGINT', onSignal)
        await node.stop()
      }
    })

  model.command('info')
    .description('Validate a GGUF file and print its model id (sha256), architecture, parameters, context length and size')
    .argument('<file>', 'GGUF file')
    .option('--json', 'print as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let summary: GgufSummary
      try {
        summary = await inspectGguf(file)
      } catch (err: any) {
        if (typeof err?.name === 'string' && /^(Gguf|ModelNotFound)/.test(err.name)) {
          throw new CliUsageError(err.message)
        }
        throw err
      }
      print(opts.json === true ? JSON.stringify(summary) : formatSummary(summary))
    })
}
