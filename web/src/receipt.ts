// The session token and viewer receipt formats of PROTOCOL.md §5, for the browser player: the
// same bytes `sdk/src/session.rs` makes, checked against `sdk/tests/vectors/session_v1.json`
// by tests/ts/receipt.test.ts. Plain Uint8Array/DataView and WebCrypto only, so it runs
// unchanged in a browser and in Node.js.

/** `MEDIASN1`: a consumer's receipt signer grants a session key up to `maxBytes`. */
export const SESSION_TOKEN_DOMAIN = new TextEncoder().encode("MEDIASN1");
/** `MEDIAVR1`: a viewer acknowledges `cumulative` bytes from one relay in one epoch. */
export const VIEWER_RECEIPT_DOMAIN = new TextEncoder().encode("MEDIAVR1");
export const SESSION_TOKEN_MESSAGE_BYTES = 120;
export const VIEWER_RECEIPT_MESSAGE_BYTES = 152;
export const SIGNATURE_BYTES = 64;

const KEY_BYTES = 32;
/** Bytes backed by a plain ArrayBuffer, as WebCrypto takes them. */
export type Bytes = Uint8Array<ArrayBuffer>;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** A 32-byte key, or an error naming which field was wrong. */
function key(name: string, bytes: Uint8Array): Uint8Array {
  if (bytes.length !== KEY_BYTES) {
    throw new RangeError(`${name} must be ${KEY_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function u64(name: string, value: bigint): bigint {
  if (value < 0n || value > U64_MAX) throw new RangeError(`${name} must fit a u64, got ${value}`);
  return value;
}

function concat(parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function littleEndian(write: (view: DataView) => void): Bytes {
  const bytes = new Uint8Array(8);
  write(new DataView(bytes.buffer));
  return bytes;
}

export interface SessionGrant {
  config: Uint8Array;
  consumer: Uint8Array;
  sessionKey: Uint8Array;
  /** Unix seconds, an i64. */
  expiresAt: bigint;
  maxBytes: bigint;
}

/** The 120 bytes a receipt signer signs: domain, config, consumer, session key, expiry, cap. */
export function sessionTokenMessage(grant: SessionGrant): Bytes {
  if (grant.expiresAt < I64_MIN || grant.expiresAt > I64_MAX) {
    throw new RangeError(`expiresAt must fit an i64, got ${grant.expiresAt}`);
  }
  const maxBytes = u64("maxBytes", grant.maxBytes);
  return concat([
    SESSION_TOKEN_DOMAIN,
    key("config", grant.config),
    key("consumer", grant.consumer),
    key("sessionKey", grant.sessionKey),
    littleEndian((v) => v.setBigInt64(0, grant.expiresAt, true)),
    littleEndian((v) => v.setBigUint64(0, maxBytes, true)),
  ]);
}

export interface ViewerAck {
  config: Uint8Array;
  consumer: Uint8Array;
  nodeKey: Uint8Array;
  sessionKey: Uint8Array;
  epoch: bigint;
  /** Bytes received from this relay in this epoch so far (cumulative, never decreasing). */
  cumulative: bigint;
}

/** The 152 bytes a session key signs: domain, config, consumer, relay, session key, epoch,
 * cumulative bytes. */
export function viewerReceiptMessage(ack: ViewerAck): Bytes {
  const epoch = u64("epoch", ack.epoch);
  const cumulative = u64("cumulative", ack.cumulative);
  return concat([
    VIEWER_RECEIPT_DOMAIN,
    key("config", ack.config),
    key("consumer", ack.consumer),
    key("nodeKey", ack.nodeKey),
    key("sessionKey", ack.sessionKey),
    littleEndian((v) => v.setBigUint64(0, epoch, true)),
    littleEndian((v) => v.setBigUint64(0, cumulative, true)),
  ]);
}

/** An Ed25519 key pair held by WebCrypto (the private key never leaves it). */
export interface SessionKey {
  publicKey: Bytes;
  privateKey: CryptoKey;
}

/** A fresh session key; its private half is not extractable. */
export async function generateSessionKey(subtle: SubtleCrypto = crypto.subtle): Promise<SessionKey> {
  const pair = (await subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return { publicKey, privateKey: pair.privateKey };
}

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const PKCS8_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/** The key of a known 32-byte seed (test vectors, keys restored from storage). */
export async function sessionKeyFromSeed(
  seed: Uint8Array,
  subtle: SubtleCrypto = crypto.subtle,
): Promise<SessionKey> {
  const pkcs8 = concat([PKCS8_ED25519_PREFIX, key("seed", seed)]);
  // Imported once extractable only to learn the public key, then kept non-extractable.
  const readable = await subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await subtle.exportKey("jwk", readable);
  const publicKey = base64UrlDecode(jwk.x ?? "");
  key("public key", publicKey);
  const privateKey = await subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  return { publicKey, privateKey };
}

/** `message` followed by its Ed25519 signature by `signer`: a token or a receipt as sent. */
export async function signed(
  message: Uint8Array,
  signer: SessionKey,
  subtle: SubtleCrypto = crypto.subtle,
): Promise<Bytes> {
  const signature = new Uint8Array(
    await subtle.sign({ name: "Ed25519" }, signer.privateKey, Uint8Array.from(message)),
  );
  return concat([message, signature]);
}

function base64UrlDecode(text: string): Bytes {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** A base58 address (as the gateway and relays write keys) as its 32 bytes. */
export function decodeAddress(text: string): Bytes {
  if (text.length === 0 || text.length > 44) {
    throw new RangeError(`not a base58 address: ${JSON.stringify(text)}`);
  }
  let value = 0n;
  for (const char of text) {
    const digit = BASE58_ALPHABET.indexOf(char);
    if (digit < 0) throw new RangeError(`not a base58 address: ${JSON.stringify(text)}`);
    value = value * 58n + BigInt(digit);
  }
  const leadingZeros = text.length - text.replace(/^1+/, "").length;
  const bytes: number[] = [];
  while (value > 0n) {
    bytes.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  const out = Uint8Array.from([...new Array<number>(leadingZeros).fill(0), ...bytes]);
  key(`address ${text}`, out);
  return out;
}
