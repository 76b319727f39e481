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

/** `--spend-limit`: wei as an integer or ether with an `eth` suffix; `none` (where allowed) removes the limit. */
async function spendLimit (value: string | undefined, allowNone: boolean): Promise<bigint | null | undefined> {
  if (value == null) {
    return undefined
  }
  if (allowNone && value.trim().toLowerCase() === 'none') {
    return null
  }
  const { parseAmount } = await import('./chain.ts')
  return parseAmount('--spend-limit', value)
}

/** `--token-limit`: a whole number of tokens (prompt + completion), 0 included; `none` (where allowed) removes it. */
function tokenLimit (value: string | undefined, allowNone: boolean): number | null | undefined {
  if (value == null) {
    return undefined
  }
  if (allowNone && value.trim().toLowerCase() === 'none') {
    return null
  }
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidOptionError('--token-limit', `"${value}" is not a whole number of tokens${allowNone ? ' (or none)' : ''}`)
  }
  return n
}

function formatWei (wei: string | undefined): string {
  return wei == null ? 'none' : `${wei} wei`
}

function when (ms: number | undefined): string {
  return ms == null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
}

/** `cortensor router key create|list|limits|revoke` */
export function registerRouterCommands (program: Command): Command {
  const router = program.command('router').description('router node tools (the router itself runs with `node start --role router`)')
  const key = router.command('key').description('API keys of the router (only their SHA-256 is stored)')

  dataDirOptions(key.command('create'))
    .description('create an API key and print it once; the router keeps only its hash')
    .option('--session <id>', 'session the key charges (default: the router\'s own session)')
    .option('--label <text>', 'a note to recognise the key in `router key list`')
    .option('--rate-limit <n>', 'requests per minute for this key (default: the router\'s, 60)')
    .option('--max-streams <n>', 'concurrent streams for this key (default: the router\'s, 4)')
    .option('--spend-limit <amount>', 'most the key may spend, in wei or e.g. 0.5eth (what the hub pays miners for its tasks); over it requests get 429 insufficient_quota (default: no limit)')
    .option('--token-limit <n>', 'most tokens (prompt + completion) the key may use (default: no limit)')
    .option('--json', 'print { key, id, sessionId } as JSON')
    .action(async (opts) => {
      const session = sessionId(opts.session)
      const rateLimitPerMinute = positiveInt('--rate-limit', opts.rateLimit, 1_000_000)
      const maxStreams = positiveInt('--max-streams', opts.maxStreams, 100_000)
      const spendLimitWei = await spendLimit(opts.spendLimit, false) ?? undefined
      const tokens = tokenLimit(opts.tokenLimit, false) ?? undefined
      if (opts.label != null && String(opts.label).length > 200) {
        throw new InvalidOptionError('--label', 'at most 200 characters')
      }
      const store = await openStore(opts)
      const { key: secret, record } = await store.create({ sessionId: session, label: opts.label, rateLimitPerMinute, maxStreams, spendLimitWei, tokenLimit: tokens })
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
      print(['id', 'session', 'rate/min', 'streams', 'spend limit', 'token limit', 'created', 'revoked', 'label'].join('\t'))
      for (const r of records) {
        print([r.id, r.sessionId ?? 'router', r.rateLimitPerMinute ?? 'default', r.maxStreams ?? 'default', formatWei(r.spendLimitWei), r.tokenLimit ?? 'none', when(r.createdAtMs), when(r.revokedAtMs), r.label ?? ''].join('\t'))
      }
    })

  dataDirOptions(key.command('limits'))
    .description('set or remove a key\'s spend and token limits; a running router applies them within a second')
    .argument('<id>', 'key id as printed by `router key list` (or a unique prefix, or the key itself)')
    .option('--spend-limit <amount>', 'most the key may spend in all, in wei or e.g. 0.5eth; none removes the limit')
    .option('--token-limit <n>', 'most tokens the key may use in all; none removes the limit')
    .option('--json', 'print the key\'s record as JSON')
    .action(async (id: string, opts) => {
      if (opts.spendLimit == null && opts.tokenLimit == null) {
        throw new InvalidOptionError('--spend-limit', 'give --spend-limit or --token-limit (or both)')
      }
      const spendLimitWei = await spendLimit(opts.spendLimit, true)
      const tokens = tokenLimit(opts.tokenLimit, true)
      const store = await openStore(opts)
      const { hash: _hash, ...record } = await store.setLimits(id, { spendLimitWei, tokenLimit: tokens })
      if (opts.json === true) {
        print(JSON.stringify(record))
      }
      say(`key ${record.id}: spend limit ${formatWei(record.spendLimitWei)}, token limit ${record.tokenLimit ?? 'none'}`)
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
