/**
 * The node's identity: one secp256k1 private key, stored as 0x-prefixed hex
 * in `<data-dir>/key` with mode 0600. It is the libp2p peer key and the EVM
 * account that signs chain transactions and precommits.
 */
import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { privateKeyToAddress } from 'viem/accounts'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

export const KEY_FILE_NAME = 'key'

export class KeyFileUnreadableError extends Error {
  static name = 'KeyFileUnreadableError'
  /** bad input: the CLI prints the message and exits with code 2 */
  readonly exitCode = 2

  constructor (path: string, reason: string) {
    super(`cannot read key file ${path}: ${reason}`)
    this.name = 'KeyFileUnreadableError'
  }
}

export class KeyFileMalformedError extends Error {
  static name = 'KeyFileMalformedError'
  readonly exitCode = 2

  constructor (path: string) {
    super(`key file ${path} must hold a 0x-prefixed 32-byte hex secp256k1 private key`)
    this.name = 'KeyFileMalformedError'
  }
}

export interface Identity {
  /** the raw key as 0x-prefixed hex, for viem's privateKeyToAccount */
  privateKey: Hex
  /** the same key as a libp2p key, for createLibp2p({ privateKey }) */
  libp2pKey: PrivateKey
  peerId: PeerId
  address: Address
}

const KEY_RE = /^0x[0-9a-fA-F]{64}$/

export function identityFromHex (privateKey: Hex): Identity {
  const raw = Uint8Array.from(Buffer.from(privateKey.slice(2), 'hex'))
  const libp2pKey = privateKeyFromRaw(raw)
  return {
    privateKey,
    libp2pKey,
    peerId: peerIdFromPrivateKey(libp2pKey),
    address: privateKeyToAddress(privateKey)
  }
}

/** Read a key file; typed errors for a missing, unreadable or malformed file. */
export async function readKeyFile (path: string): Promise<Identity> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new KeyFileUnreadableError(path, err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message))
  }
  const hex = text.trim()
  if (!KEY_RE.test(hex)) {
    throw new KeyFileMalformedError(path)
  }
  const key = hex.toLowerCase() as Hex
  // zero or ≥ the curve order is not a valid secp256k1 key
  try {
    return identityFromHex(key)
  } catch {
    throw new KeyFileMalformedError(path)
  }
}

/** Write a key file atomically (temp file, then a hard link that fails if the key exists), mode 0600. */
export async function writeKeyFile (path: string, privateKey: Hex): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${privateKey}\n`, { mode: 0o600, flag: 'wx' })
  try {
    await chmod(tmp, 0o600)
    await link(tmp, path)
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

export function generatePrivateKey (): Hex {
  for (;;) {
    const hex = `0x${randomBytes(32).toString('hex')}` as Hex
    try {
      identityFromHex(hex)
      return hex
    } catch {
      // astronomically unlikely: out of the curve's range, draw again
    }
  }
}

/**
 * Load `<dataDir>/key`, creating the data dir and a new key on first start.
 * `keyFile` overrides the location (and is never created: it must exist).
 */
export async function loadOrCreateIdentity (dataDir: string, keyFile?: string): Promise<Identity & { created: boolean }> {
  if (keyFile != null) {
    return { ...(await readKeyFile(keyFile)), created: false }
  }
  // the data dir holds the node key: owner only
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, KEY_FILE_NAME)
  try {
    return { ...(await readKeyFile(path)), created: false }
  } catch (err: any) {
    if (!(err instanceof KeyFileUnreadableError) || !err.message.endsWith('no such file')) {
      throw err
    }
  }
  const key = generatePrivateKey()
  await writeKeyFile(path, key)
  return { ...identityFromHex(key), created: true }
}
