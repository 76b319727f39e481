/**
 * A SentencePiece-style vocabulary for generated models: control tokens, the
 * 256 byte-fallback tokens `<0xNN>` (so any UTF-8 text round-trips), single
 * characters, and every prefix of common English words with the `▁` word
 * marker (llama.cpp's SPM tokenizer merges bigrams, so each prefix must exist
 * for the whole word to be reachable), then the ChatML control tokens of the
 * models' chat template (last, so every other token keeps its id).
 */

/** llama.cpp token types */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const

export const UNK_ID = 0
export const BOS_ID = 1
export const EOS_ID = 2

const WORD_MARK = '\u2581'

const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'-:;"()'

const WORDS = ('the of and to in is it that was for on are as with his they at be this have from or one had by word but ' +
  'not what all were we when your can said there use each which she do how their if will up other about out many then them ' +
  'these so some her would make like him into time has look two more write go see number no way could people my than first ' +
  'water been call who now find long down day did get come made may part over new sound take only little work know place ' +
  'year live me back give most very after thing our just name good man think say great where help through much before line ' +
  'right too mean old any same tell boy follow came want show also around form three small set put end does another well ' +
  'large must big even such because turn here why ask went men read need land different home us move try kind hand picture ' +
  'again change off play air away animal house point page letter mother answer found study still learn should world high ' +
  'every near add food between own below country plant last school father keep tree never start city earth eye light thought ' +
  'head under story saw left few while along might close something seem next hard open example begin life always those both ' +
  'paper together got group often run important until children side feet car mile night walk white sea began grow took river ' +
  'four carry state once book hear stop without second later miss idea enough eat face watch far really almost let above girl ' +
  'sometimes mountain cut young talk soon list song being leave family model node task network chain proof work miner oracle').split(' ')

/** ChatML's turn markers, control tokens at the end of the vocabulary (CHATML_TEMPLATE writes them). */
export const CHAT_TOKENS = ['<|im_start|>', '<|im_end|>'] as const

/**
 * The chat template of generated models (`tokenizer.chat_template`): ChatML,
 * as Hugging Face's tokenizers write it for ChatML models.
 */
export const CHATML_TEMPLATE = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

export interface Vocab {
  tokens: string[]
  scores: number[]
  types: number[]
  /** tokens before CHAT_TOKENS (the vocabulary generated models had before they carried a chat template) */
  baseTokens: number
}

/** The vocabulary (same for every seed and preset). */
export function buildVocab (): Vocab {
  const tokens: string[] = []
  const scores: number[] = []
  const types: number[] = []
  const seen = new Set<string>()
  const add = (t: string, score: number, type: number): void => {
    if (seen.has(t)) {
      return
    }
    seen.add(t)
    tokens.push(t)
    scores.push(score)
    types.push(type)
  }
  add('<unk>', 0, TOKEN_TYPE.unknown)
  add('<s>', 0, TOKEN_TYPE.control)
  add('</s>', 0, TOKEN_TYPE.control)
  for (let b = 0; b < 256; b++) {
    add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, TOKEN_TYPE.byte)
  }
  // longer pieces get lower scores, as in SentencePiece's unigram ordering
  let score = -1
  const piece = (p: string): void => {
    if (!seen.has(p)) {
      add(p, score, TOKEN_TYPE.normal)
      score -= 0.01
    }
  }
  piece(WORD_MARK)
  for (const ch of CHARS) {
    piece(ch)
  }
  for (const w of WORDS) {
    for (let i = 1; i <= w.length; i++) {
      piece(WORD_MARK + w.slice(0, i))
    }
  }
  const baseTokens = tokens.length
  for (const t of CHAT_TOKENS) {
    add(t, 0, TOKEN_TYPE.control)
  }
  return { tokens, scores, types, baseTokens }
}
