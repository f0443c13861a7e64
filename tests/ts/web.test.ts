// The browser player's network code (web/src) in Node.js: the wire helpers against the
// session vectors, the loader's URL guard, and a whole session against fake relays (receipts
// signed and verified, a cut transfer resumed with Range on another relay, a 402 answered
// by acknowledging), and the committed bundle being what the sources build.
import { strict as assert } from "assert";
import { describe, it } from "node:test";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { decodeAddress, VIEWER_RECEIPT_MESSAGE_BYTES } from "../../web/src/receipt";
import { base58Encode, base64UrlDecode, base64UrlEncode, parseSessionToken } from "../../web/src/wire";
import { pathOf, PLACEHOLDER_BASE } from "../../web/src/loader";
import { MediaNetwork, relayUrls } from "../../web/src/network";
import { createSigner } from "../../web/src/signer";

const root = path.join(__dirname, "..", "..");
const vectors = JSON.parse(
  readFileSync(path.join(root, "sdk", "tests", "vectors", "session_v1.json"), "utf8").replace(
    /:\s*(-?\d{10,})/g,
    ': "$1"',
  ),
);

describe("wire", () => {
  it("reads every vector token's fields and writes its keys back in base58", () => {
    for (const vector of vectors.tokens) {
      const text = base64UrlEncode(Buffer.from(vector.token, "hex"));
      const token = parseSessionToken(text);
      assert.deepEqual(token.config, decodeAddress(vector.config));
      assert.deepEqual(token.consumer, decodeAddress(vector.consumer));
      assert.deepEqual(token.sessionKey, decodeAddress(vector.session_key));
      assert.equal(token.expiresAt, BigInt(vector.expires_at));
      assert.equal(token.maxBytes, BigInt(vector.max_bytes));
      for (const address of [vector.config, vector.consumer, vector.session_key]) {
        assert.equal(base58Encode(decodeAddress(address)), address);
      }
      assert.deepEqual(base64UrlDecode(text), new Uint8Array(Buffer.from(vector.token, "hex")));
    }
    assert.equal(base58Encode(new Uint8Array(32)), "11111111111111111111111111111111");
    assert.throws(() => parseSessionToken(base64UrlEncode(new Uint8Array(100))), /184 bytes/);
    assert.throws(() => base64UrlDecode("not base64!"), /base64url/);
  });

  it("lets the loader fetch only paths under its placeholder base", () => {
    assert.equal(pathOf(`${PLACEHOLDER_BASE}live/main/master.m3u8`), "live/main/master.m3u8");
    assert.equal(pathOf(`${PLACEHOLDER_BASE}live/main/480p/seg_00001.ts`), "live/main/480p/seg_00001.ts");
    for (const outside of [
      "https://evil.example/live/main/master.m3u8",
      "http://relays.media-network.invalid/live/x.ts",
      `${PLACEHOLDER_BASE}`,
      `${PLACEHOLDER_BASE}live//x.ts`,
      "not a url",
    ]) {
      assert.equal(pathOf(outside), null, outside);
    }
  });

  it("takes relay URLs over http(s) only, once each, without credentials", () => {
    const many = Array.from({ length: 30 }, (_, i) => `http://10.0.0.${i}:80`);
    assert.deepEqual(
      relayUrls([
        "http://a.example:8080/",
        "http://a.example:8080",
        "https://b.example/base/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://user:pass@c.example/",
        "http://d.example/?q=1",
        42,
        null,
      ]),
      ["http://a.example:8080", "https://b.example/base"],
    );
    assert.equal(relayUrls(many).length, 16);
  });
});

/** A relay of the fake network: serves one object, counts what it delivered, verifies
 * receipts with WebCrypto. */
class FakeRelay {
  delivered = 0n;
  acked = 0n;
  receipts = 0;
  ranges: (string | null)[] = [];
  cutAfter: number | null = null;
  paymentRequiredOnce = false;
  constructor(
    readonly url: string,
    readonly nodeKey: string,
    readonly body: Uint8Array,
    readonly sessionKey: () => Uint8Array,
  ) {}

  async answer(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const headers = { "x-media-epoch": "7", "x-media-node-key": this.nodeKey };
    if (url.pathname === "/.media/receipt") {
      const receipt = base64UrlDecode(await request.text());
      const message = receipt.slice(0, VIEWER_RECEIPT_MESSAGE_BYTES);
      const key = await crypto.subtle.importKey("raw", Uint8Array.from(this.sessionKey()), { name: "Ed25519" }, false, ["verify"]);
      const valid = await crypto.subtle.verify(
        { name: "Ed25519" },
        key,
        receipt.slice(VIEWER_RECEIPT_MESSAGE_BYTES),
        message,
      );
      assert.ok(valid, "the receipt verifies under the session key");
      assert.deepEqual(message.slice(72, 104), decodeAddress(this.nodeKey), "for this relay");
      const view = new DataView(message.buffer);
      assert.equal(view.getBigUint64(136, true), 7n, "for the relay's epoch");
      const cumulative = view.getBigUint64(144, true);
      assert.ok(cumulative <= this.delivered, "never more than delivered");
      this.receipts++;
      if (cumulative > this.acked) this.acked = cumulative;
      return Response.json({ acked: Number(this.acked), duplicate: false });
    }
    assert.ok(request.headers.get("x-media-session"), "the session token rides along");
    if (this.paymentRequiredOnce) {
      this.paymentRequiredOnce = false;
      return new Response("{}", { status: 402, headers });
    }
    const range = request.headers.get("range");
    this.ranges.push(range);
    const start = range ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0;
    const rest = this.body.slice(start);
    const cut = this.cutAfter;
    const chunks = [rest.slice(0, 1000), rest.slice(1000, 2000), rest.slice(2000)];
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        const chunk = chunks.shift();
        if (cut !== null && sent >= cut) {
          controller.error(new TypeError("connection reset"));
          return;
        }
        if (!chunk) {
          controller.close();
          return;
        }
        sent += chunk.length;
        this.delivered += BigInt(chunk.length);
        controller.enqueue(chunk);
      },
    });
    return new Response(stream, { status: range ? 206 : 200, headers });
  }
}

describe("a session against fake relays", () => {
  it("acknowledges every byte, resumes a cut transfer on the other relay, and pays a 402", async () => {
    const signer = await createSigner();
    const body = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 251);
    const nodeKeys = [new Uint8Array(32).fill(3), new Uint8Array(32).fill(4)].map(base58Encode);
    const relays = [
      new FakeRelay("http://relay-a.test", nodeKeys[0], body, () => signer.publicKey),
      new FakeRelay("http://relay-b.test", nodeKeys[1], body, () => signer.publicKey),
    ];
    relays[0].cutAfter = 2000;
    relays[1].paymentRequiredOnce = true;
    const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      if (url.host === "gateway.test") {
        if (url.pathname === "/.media/relays") return new Response("no chain view", { status: 503 });
        assert.equal(url.pathname, "/session");
        const asked = JSON.parse(await request.text());
        assert.equal(asked.session_key, base58Encode(signer.publicKey));
        const token = new Uint8Array(184);
        token.set(new TextEncoder().encode("MEDIASN1"));
        token.set(new Uint8Array(32).fill(1), 8);
        token.set(new Uint8Array(32).fill(2), 40);
        token.set(signer.publicKey, 72);
        new DataView(token.buffer).setBigInt64(104, BigInt(Math.floor(Date.now() / 1000) + 3600), true);
        new DataView(token.buffer).setBigUint64(112, 1n << 30n, true);
        return Response.json({ token: base64UrlEncode(token), expires_at: 0, max_bytes: 1 << 30 });
      }
      const relay = relays.find((r) => request.url.startsWith(r.url));
      assert.ok(relay, `a known relay: ${request.url}`);
      return relay.answer(request);
    };
    const network = await MediaNetwork.join(
      { gateway: "http://gateway.test/", relays: relays.map((r) => r.url), fetch: fakeFetch, stallMs: 2000 },
      signer,
    );
    assert.equal(network.consumer, base58Encode(new Uint8Array(32).fill(2)));
    const got = await network.fetchObject("live/main/seg_00001.ts", null, new AbortController().signal);
    assert.deepEqual(got, body, "the object whole, no byte twice");
    assert.equal(network.failovers, 1);
    assert.deepEqual(relays[0].ranges, [null]);
    assert.deepEqual(relays[1].ranges, ["bytes=2000-"], "resumed where the cut left it");
    await network.acknowledgeAll();
    assert.equal(relays[0].acked, 2000n);
    assert.equal(relays[1].acked, 3000n);
    const totals = network.totals();
    assert.equal(totals.received, 5000n);
    assert.equal(totals.acked, 5000n);
  });
});

describe("the bundle", () => {
  it("web/dist/player.js is what `npm run build:web` makes of web/src", () => {
    const script: string = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).scripts["build:web"];
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), "media-web-")), "player.js");
    const args = script
      .split(/\s+/)
      .slice(1)
      .map((a) => (a.startsWith("--outfile=") ? `--outfile=${out}` : a));
    execFileSync(path.join(root, "node_modules", ".bin", "esbuild"), args, { cwd: root, stdio: "pipe" });
    assert.ok(
      readFileSync(out).equals(readFileSync(path.join(root, "web", "dist", "player.js"))),
      "rebuild and commit web/dist/player.js (npm run build:web)",
    );
  });
});
