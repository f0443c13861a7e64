// What the player reads and writes on the wire besides the signed bytes of receipt.ts:
// base64url (tokens and receipts travel in it), base58 (keys), and the session token's fields.
import { Bytes, SESSION_TOKEN_MESSAGE_BYTES, SIGNATURE_BYTES } from "./receipt";

export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64UrlDecode(text: string): Bytes {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new RangeError("not base64url");
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** A key as base58, the way the gateway and relays write addresses. */
export function base58Encode(bytes: Uint8Array): string {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  let out = "";
  while (value > 0n) {
    out = BASE58_ALPHABET[Number(value % 58n)] + out;
    value /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

/** The fields of a session token (the gateway's signature is the relays' to check). */
export interface SessionToken {
  text: string;
  config: Bytes;
  consumer: Bytes;
  sessionKey: Bytes;
  expiresAt: bigint;
  maxBytes: bigint;
}

export const SESSION_TOKEN_BYTES = SESSION_TOKEN_MESSAGE_BYTES + SIGNATURE_BYTES;

export function parseSessionToken(text: string): SessionToken {
  const bytes = base64UrlDecode(text);
  if (bytes.length !== SESSION_TOKEN_BYTES) {
    throw new RangeError(`a session token has ${SESSION_TOKEN_BYTES} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer);
  return {
    text,
    config: bytes.slice(8, 40),
    consumer: bytes.slice(40, 72),
    sessionKey: bytes.slice(72, 104),
    expiresAt: view.getBigInt64(104, true),
    maxBytes: view.getBigUint64(112, true),
  };
}
