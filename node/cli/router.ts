import { InvalidOptionError } from './errors.ts'
import { print, say } from './output.ts'
import type { Command } from 'commander'

// the key store loads only when a command runs, so `--help` and bad flags answer fast

function dataDirOptions (cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'the router node\'s data directory; keys live in <data-dir>/router/keys.json (default: ~/.cortensor)')
    .option('--config <file>', 'node config file to take dataDir from')
}

async function openStore (opts: { dataDir?: string, config?: string }): Promise<import('../roles/router/keys.ts').KeyStore> {
  const { resolveConfig } = await import('../config.ts')
  const { KeyStore } = await import('../roles/router/keys.ts')
  const config = await resolveConfig({ flags: { dataDir: opts.dataDir, config: opts.config } })
  return KeyStore.open(config.dataDir)
}

function positiveInt (flag: string, value: string | undefined, max: number): number | undefined {
  if (value == null) {
    return undefined
  }
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new InvalidOptionError(flag, `"${value}" is not a whole number between 1 and ${max}`)
  }
  return n
}

function sessionId (value: string | undefined): bigint | undefined {
  if (value == null) {
    return undefined
  }
  if (!/^\d{1,78}$/.test(value.trim())) {
    throw new InvalidOptionError('--session', `"${value}" is not a session id (a decimal number, as printed by \`cortensor session create\`)`)
  }
  return BigInt(value.trim())
}

function when (ms: number | undefined): string {
  return ms == null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
}

/** `cortensor router key create|list|revoke` */
export function registerRouterCommands (program: Command): Command {
  const router = program.command('router').description('router node tools (the router itself runs with `node start --role router`)')
  const key = router.command('key').description('API keys of the router (only their SHA-256 is stored)')

  dataDirOptions(key.command('create'))
    .description('create an API key and print it once; the router keeps only its hash')
    .option('--session <id>', 'session the key charges (default: the router\'s own session)')
    .option('--label <text>', 'a note to recognise the key in `router key list`')
    .option('--rate-limit <n>', 'requests per minute for this key (default: the router\'s, 60)')
    .option('--max-streams <n>', 'concurrent streams for this key (default: the router\'s, 4)')
    .option('--json', 'print { key, id, sessionId } as JSON')
    .action(async (opts) => {
      const session = sessionId(opts.session)
      const rateLimitPerMinute = positiveInt('--rate-limit', opts.rateLimit, 1_000_000)
      const maxStreams = positiveInt('--max-streams', opts.maxStreams, 100_000)
      if (opts.label != null && String(opts.label).length > 200) {
        throw new InvalidOptionError('--label', 'at most 200 characters')
      }
      const store = await openStore(opts)
      const { key: secret, record } = await store.create({ sessionId: session, label: opts.label, rateLimitPerMinute, maxStreams })
      if (opts.json === true) {
        print(JSON.stringify({ key: secret, id: record.id, sessionId: record.sessionId }))
      } else {
        print(secret)
      }
      say(`key ${record.id} created for ${record.sessionId == null ? 'the router\'s own session' : `session ${record.sessionId}`}; it is shown only now (stored as its SHA-256 in ${store.path})`)
    })

  dataDirOptions(key.command('list'))
    .description('list the keys: id, session, limits, created, revoked (never the keys themselves)')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const store = await openStore(opts)
      const records = store.list()
      if (opts.json === true) {
        print(JSON.stringify(records.map(({ hash: _hash, ...r }) => r)))
        return
      }
      if (records.length === 0) {
        say(`no keys in ${store.path}`)
        return
      }
      print(['id', 'session', 'rate/min', 'streams', 'created', 'revoked', 'label'].join('\t'))
      for (const r of records) {
        print([r.id, r.sessionId ?? 'router', r.rateLimitPerMinute ?? 'default', r.maxStreams ?? 'default', when(r.createdAtMs), when(r.revokedAtMs), r.label ?? ''].join('\t'))
      }
    })

  dataDirOptions(key.command('revoke'))
    .description('revoke a key by its id (or a unique id prefix, or the key itself); a running router stops accepting it within a second')
    .argument('<id>', 'key id as printed by `router key list`')
    .action(async (id: string, opts) => {
      const store = await openStore(opts)
      const record = await store.revoke(id)
      say(`key ${record.id} revoked`)
    })

  return router
}
