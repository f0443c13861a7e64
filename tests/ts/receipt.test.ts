// The browser player's receipt code (web/src/receipt.ts) against the Python-made vectors that
// the Rust codec also reproduces (sdk/tests/vectors/session_v1.json): one format in two
// languages, byte for byte.
import { strict as assert } from "assert";
import { describe, it } from "node:test";
import { readFileSync } from "fs";
import * as path from "path";
import {
  decodeAddress,
  generateSessionKey,
  sessionKeyFromSeed,
  sessionTokenMessage,
  signed,
  viewerReceiptMessage,
  SESSION_TOKEN_MESSAGE_BYTES,
  VIEWER_RECEIPT_MESSAGE_BYTES,
} from "../../web/src/receipt";

// Read as text with every long integer kept as a string: JSON numbers past 2^53 (the
// extremes' u64::MAX) would lose their low bits as JavaScript numbers.
const vectors = JSON.parse(
  readFileSync(path.join(__dirname, "..", "..", "sdk", "tests", "vectors", "session_v1.json"), "utf8")
    .replace(/:\s*(-?\d{10,})/g, ': "$1"'),
);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));

/** `message` is the vector's, and signed by the key of `seed` (whose public key is
 * `signer`) it is the vector's token or receipt. */
async function assertSignsAsVector(
  message: Uint8Array,
  size: number,
  expected: { message: string; seed: string; signer: string; signed: string },
) {
  assert.equal(message.length, size);
  assert.equal(hex(message), expected.message);
  const key = await sessionKeyFromSeed(fromHex(expected.seed));
  assert.deepEqual(key.publicKey, decodeAddress(expected.signer));
  assert.equal(key.privateKey.extractable, false);
  assert.equal(hex(await signed(message, key)), expected.signed);
}

describe("session tokens and viewer receipts (web/src/receipt.ts)", () => {
  for (const vector of vectors.tokens as any[]) {
    it(`signs the ${vector.name} session token as the vector`, async () => {
      const message = sessionTokenMessage({
        config: decodeAddress(vector.config),
        consumer: decodeAddress(vector.consumer),
        sessionKey: decodeAddress(vector.session_key),
        expiresAt: BigInt(vector.expires_at),
        maxBytes: BigInt(vector.max_bytes),
      });
      await assertSignsAsVector(message, SESSION_TOKEN_MESSAGE_BYTES, {
        message: vector.message,
        seed: vector.receipt_signer_seed,
        signer: vector.receipt_signer,
        signed: vector.token,
      });
    });
  }

  for (const vector of vectors.viewer_receipts as any[]) {
    it(`signs the ${vector.name} viewer receipt as the vector`, async () => {
      const message = viewerReceiptMessage({
        config: decodeAddress(vector.config),
        consumer: decodeAddress(vector.consumer),
        nodeKey: decodeAddress(vector.node_key),
        sessionKey: decodeAddress(vector.session_key),
        epoch: BigInt(vector.epoch),
        cumulative: BigInt(vector.cumulative),
      });
      await assertSignsAsVector(message, VIEWER_RECEIPT_MESSAGE_BYTES, {
        message: vector.message,
        seed: vector.session_seed,
        signer: vector.session_key,
        signed: vector.receipt,
      });
    });
  }

  it("refuses wrong-sized keys, out-of-range numbers and bad addresses", async () => {
    const zero = new Uint8Array(32);
    const ack = { config: zero, consumer: zero, nodeKey: zero, sessionKey: zero, epoch: 0n, cumulative: 0n };
    assert.throws(() => viewerReceiptMessage({ ...ack, nodeKey: new Uint8Array(31) }), /nodeKey must be 32 bytes/);
    assert.throws(() => viewerReceiptMessage({ ...ack, cumulative: 1n << 64n }), /cumulative must fit a u64/);
    assert.throws(() => viewerReceiptMessage({ ...ack, epoch: -1n }), /epoch must fit a u64/);
    assert.throws(
      () => sessionTokenMessage({ config: zero, consumer: zero, sessionKey: zero, expiresAt: 1n << 63n, maxBytes: 0n }),
      /expiresAt must fit an i64/,
    );
    assert.throws(() => decodeAddress("0OIl"), /not a base58 address/);
    assert.throws(() => decodeAddress("1111"), /must be 32 bytes/);
    // A fresh session key signs verifiably.
    const session = await generateSessionKey();
    const receipt = await signed(viewerReceiptMessage({ ...ack, sessionKey: session.publicKey }), session);
    const publicKey = await crypto.subtle.importKey("raw", session.publicKey, { name: "Ed25519" }, false, ["verify"]);
    assert.ok(
      await crypto.subtle.verify({ name: "Ed25519" }, publicKey, receipt.slice(152), receipt.slice(0, 152)),
    );
  });
});
