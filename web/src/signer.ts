// The session key: Ed25519 in WebCrypto where the browser has it (the private key is not
// extractable), else @noble/ed25519 over WebCrypto's SHA-512.
import * as noble from "@noble/ed25519";
import { Bytes, generateSessionKey, signed } from "./receipt";

export interface Signer {
  publicKey: Bytes;
  /** Where the key lives, for the panel: "webcrypto" or "noble". */
  kind: string;
  /** `message` followed by its signature. */
  sign(message: Uint8Array): Promise<Bytes>;
}

export async function createSigner(subtle: SubtleCrypto = crypto.subtle): Promise<Signer> {
  try {
    const key = await generateSessionKey(subtle);
    return { publicKey: key.publicKey, kind: "webcrypto", sign: (m) => signed(m, key, subtle) };
  } catch {
    return nobleSigner();
  }
}

export async function nobleSigner(): Promise<Signer> {
  const secret = noble.utils.randomSecretKey();
  const publicKey = Uint8Array.from(await noble.getPublicKeyAsync(secret));
  return {
    publicKey,
    kind: "noble",
    sign: async (message) => {
      const signature = await noble.signAsync(message, secret);
      const out = new Uint8Array(message.length + signature.length);
      out.set(message);
      out.set(signature, message.length);
      return out;
    },
  };
}
