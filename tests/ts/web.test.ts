// The browser player's network code (web/src) in Node.js: the wire helpers against the
// session vectors, the loader's URL guard, and sessions against fake relays (receipts
// signed and verified, a cut transfer resumed with Range on another relay, 402s paid by
// acknowledging and a relay that keeps asking left, receipts only for the listed node key,
// a 404 tried elsewhere, ranges checked, the size limit), and the committed bundle being
// what the sources build.
import { strict as assert } from "assert";
import { describe, it, mock } from "node:test";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { decodeAddress, VIEWER_RECEIPT_MESSAGE_BYTES } from "../../web/src/receipt";
import { base58Encode, base64UrlDecode, base64UrlEncode, parseSessionToken } from "../../web/src/wire";
import { pathOf, PLACEHOLDER_BASE, rangeOf } from "../../web/src/loader";
import { contentRangeStart, MediaNetwork, ObjectTooLarge, relayUrls } from "../../web/src/network";
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

  it("reads hls.js's byte ranges as its own loaders do (rangeEnd 0: the whole object)", () => {
    assert.equal(rangeOf({ rangeStart: 0, rangeEnd: 0 }), null);
    assert.equal(rangeOf({}), null);
    assert.deepEqual(rangeOf({ rangeStart: 100, rangeEnd: 0 }), { start: 100 });
    assert.deepEqual(rangeOf({ rangeStart: 0, rangeEnd: 500 }), { start: 0, end: 500 });
    assert.deepEqual(rangeOf({ rangeStart: 100, rangeEnd: 500 }), { start: 100, end: 500 });
  });

  it("reads where a Content-Range starts, and nothing malformed", () => {
    assert.equal(contentRangeStart("bytes 2000-4999/5000"), 2000);
    assert.equal(contentRangeStart("bytes 0-0/*"), 0);
    for (const bad of [null, "", "bytes */5000", "bytes 1-2", "items 1-2/3", "bytes -1-2/3", "bytes 1234567890123456-1/2"]) {
      assert.equal(contentRangeStart(bad), null, String(bad));
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
 * receipts with WebCrypto. What it finds wrong goes to `problems` (a throw inside a receipt
 * post would only be logged by the page), and each test asserts there are none. */
class FakeRelay {
  delivered = 0n;
  acked = 0n;
  receipts = 0;
  paymentsAsked = 0;
  problems: string[] = [];
  ranges: (string | null)[] = [];
  /** The next answer's body breaks after this many bytes. */
  cutAfter: number | null = null;
  paymentRequiredOnce = false;
  /** 402 while more than this is delivered and not acknowledged. */
  creditWindow: bigint | null = null;
  /** 402 whatever is acknowledged. */
  alwaysUnpaid = false;
  /** Receipts wait for this before they are answered. */
  receiptGate: Promise<void> | null = null;
  /** The key it answers under (its own unless it lies). */
  answersAs: string;
  /** The status of every object request, when set (404: it does not have it). */
  refuseWith: number | null = null;
  /** Ignores Range and sends the whole object with 200. */
  ignoresRange = false;
  /** Answers a Range with a 206 from this offset instead. */
  wrongRangeStart: number | null = null;
  /** The epoch it answers under. */
  epoch = "7";
  constructor(
    readonly url: string,
    readonly nodeKey: string,
    readonly body: Uint8Array,
    readonly sessionKey: () => Uint8Array,
  ) {
    this.answersAs = nodeKey;
  }

  private check(ok: boolean, what: string) {
    if (!ok) this.problems.push(what);
  }

  async answer(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const headers: Record<string, string> = { "x-media-epoch": this.epoch, "x-media-node-key": this.answersAs };
    if (url.pathname === "/.media/receipt") {
      this.check(request.keepalive, "receipts are posted with keepalive");
      await this.receiptGate;
      const receipt = base64UrlDecode(await request.text());
      const message = receipt.slice(0, VIEWER_RECEIPT_MESSAGE_BYTES);
      const key = await crypto.subtle.importKey("raw", Uint8Array.from(this.sessionKey()), { name: "Ed25519" }, false, ["verify"]);
      const valid = await crypto.subtle.verify(
        { name: "Ed25519" },
        key,
        receipt.slice(VIEWER_RECEIPT_MESSAGE_BYTES),
        message,
      );
      this.check(valid, "the receipt verifies under the session key");
      this.check(base58Encode(message.slice(72, 104)) === this.nodeKey, "the receipt is for this relay's own key");
      const view = new DataView(message.buffer);
      this.check(view.getBigUint64(136, true) === 7n, "for the relay's epoch");
      const cumulative = view.getBigUint64(144, true);
      this.check(cumulative <= this.delivered, "never more than delivered");
      this.receipts++;
      if (valid && cumulative > this.acked) this.acked = cumulative;
      return Response.json({ acked: Number(this.acked), duplicate: false });
    }
    this.check(request.headers.get("x-media-session") !== null, "the session token rides along");
    if (this.refuseWith !== null) return new Response("not here", { status: this.refuseWith, headers });
    const unpaid = this.delivered - this.acked;
    if (
      this.paymentRequiredOnce ||
      this.alwaysUnpaid ||
      (this.creditWindow !== null && unpaid > this.creditWindow)
    ) {
      this.paymentRequiredOnce = false;
      this.paymentsAsked++;
      return new Response("{}", { status: 402, headers });
    }
    const range = this.ignoresRange ? null : request.headers.get("range");
    this.ranges.push(request.headers.get("range"));
    const asked = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    let start = asked ? Number(asked[1]) : 0;
    const last = asked && asked[2] ? Number(asked[2]) : this.body.length - 1;
    if (range && this.wrongRangeStart !== null) start = this.wrongRangeStart;
    const rest = this.body.slice(start, last + 1);
    if (range) headers["content-range"] = `bytes ${start}-${last}/${this.body.length}`;
    headers["content-length"] = String(rest.length);
    // A cut happens once: the relay serves normally after it.
    const cut = this.cutAfter;
    this.cutAfter = null;
    const chunks = [rest.slice(0, 1000), rest.slice(1000, 2000), rest.slice(2000)].filter((c) => c.length > 0);
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
      // Nothing is sent before the page reads it.
    }, { highWaterMark: 0 });
    return new Response(stream, { status: range ? 206 : 200, headers });
  }
}

const BODY = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 251);

/** A gateway and two relays, fake, and a session joined through them. `listed`: the
 * gateway lists the relays (with their node keys) instead of answering 503. */
async function fakeNetwork(options: { listed?: boolean; maxObjectBytes?: number; ackEvery?: number } = {}) {
  const signer = await createSigner();
  const nodeKeys = [new Uint8Array(32).fill(3), new Uint8Array(32).fill(4)].map(base58Encode);
  const relays = [
    new FakeRelay("http://relay-a.test", nodeKeys[0], BODY, () => signer.publicKey),
    new FakeRelay("http://relay-b.test", nodeKeys[1], BODY, () => signer.publicKey),
  ];
  const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.host === "gateway.test") {
      if (url.pathname === "/.media/relays") {
        if (!options.listed) return new Response("no chain view", { status: 503 });
        return Response.json({
          epoch: 7,
          read_at: 0,
          relays: relays.map((r) => ({ owner: r.nodeKey, node_key: r.nodeKey, endpoint: r.url, region: "test" })),
        });
      }
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
    {
      gateway: "http://gateway.test/",
      relays: options.listed ? [] : relays.map((r) => r.url),
      fetch: fakeFetch,
      stallMs: 2000,
      maxObjectBytes: options.maxObjectBytes,
      ackEvery: options.ackEvery,
    },
    signer,
  );
  const noProblems = () => {
    for (const relay of relays) assert.deepEqual(relay.problems, [], relay.url);
  };
  return { network, relays, noProblems };
}

const fetchWhole = (network: MediaNetwork, range: { start: number; end?: number } | null = null) =>
  network.fetchObject("live/main/seg_00001.ts", range, new AbortController().signal);

describe("a session against fake relays", () => {
  it("acknowledges every byte, resumes a cut transfer on the other relay, and pays a 402", async () => {
    const { network, relays, noProblems } = await fakeNetwork();
    relays[0].cutAfter = 2000;
    relays[1].paymentRequiredOnce = true;
    assert.equal(network.consumer, base58Encode(new Uint8Array(32).fill(2)));
    const got = await fetchWhole(network);
    assert.deepEqual(got, BODY, "the object whole, no byte twice");
    assert.equal(network.failovers, 1);
    assert.deepEqual(relays[0].ranges, [null]);
    assert.deepEqual(relays[1].ranges, ["bytes=2000-"], "resumed where the cut left it");
    await network.acknowledgeAll();
    assert.equal(relays[0].acked, 2000n);
    assert.equal(relays[1].acked, 3000n);
    const totals = network.totals();
    assert.equal(totals.received, 5000n);
    assert.equal(totals.acked, 5000n);
    noProblems();
  });

  it("pays a 402 for bytes already received by acknowledging them, then is served", async () => {
    // No acknowledgement until an object ends, and the relay's receipts held back: the
    // second request finds 5000 bytes unpaid.
    const { network, relays, noProblems } = await fakeNetwork({ ackEvery: 1 << 20 });
    const relay = relays[0];
    relay.creditWindow = 3000n;
    let open!: () => void;
    relay.receiptGate = new Promise((resolve) => (open = resolve));
    assert.deepEqual(await fetchWhole(network), BODY);
    setTimeout(() => open(), 100);
    assert.deepEqual(await fetchWhole(network), BODY);
    assert.equal(relay.paymentsAsked, 1, "one 402, paid by the receipt that covered the first object");
    assert.equal(network.failovers, 0, "a relay that is paid is not left");
    await network.acknowledgeAll();
    assert.equal(relay.acked, 10_000n);
    noProblems();
  });

  it("leaves a relay that keeps asking for payment though everything is acknowledged", async () => {
    const { network, relays, noProblems } = await fakeNetwork();
    relays[0].alwaysUnpaid = true;
    assert.deepEqual(await fetchWhole(network), BODY);
    assert.equal(relays[0].paymentsAsked, 3);
    assert.equal(network.failovers, 1);
    assert.equal(relays[1].delivered, 5000n);
    noProblems();
  });

  it("signs only for the node key the chain lists, and leaves a relay answering as another", async () => {
    const { network, relays, noProblems } = await fakeNetwork({ listed: true });
    assert.deepEqual(
      network.relays.map((r) => r.listedKey),
      relays.map((r) => r.nodeKey),
    );
    // Relay A answers as B, hoping the page signs receipts for B with A's bytes.
    relays[0].answersAs = relays[1].nodeKey;
    assert.deepEqual(await fetchWhole(network), BODY);
    await network.acknowledgeAll();
    assert.equal(relays[0].delivered, 0n, "its answer was not read");
    assert.equal(relays[0].receipts, 0);
    assert.equal(relays[1].acked, 5000n);
    for (const relay of network.relays) {
      for (const count of relay.epochs) assert.equal(count.nodeKey, relay.listedKey);
    }
    noProblems();
  });

  it("asks the other relay when one does not have the object, and says 404 when none has", async () => {
    const { network, relays, noProblems } = await fakeNetwork();
    relays[0].refuseWith = 404;
    assert.deepEqual(await fetchWhole(network), BODY);
    relays[1].refuseWith = 404;
    await assert.rejects(fetchWhole(network), (e: Error & { status?: number }) => {
      assert.equal(e.status, 404);
      assert.match(e.message, /no relay served it \(2 relays/);
      return true;
    });
    noProblems();
  });

  it("checks where a resumed answer starts, and reads a range out of a whole answer", async () => {
    const { network, relays, noProblems } = await fakeNetwork();
    relays[0].cutAfter = 2000;
    relays[1].wrongRangeStart = 0;
    // B answers the resume from byte 0: left; A, benched first, is asked again once both
    // are back. A clock read in half-seconds gives both benches the same millisecond (as a
    // fast machine often does), so the tie between them is what is tested.
    const realNow = Date.now.bind(Date);
    const coarseClock = mock.method(Date, "now", () => Math.floor(realNow() / 500) * 500);
    let got: Uint8Array;
    try {
      got = await fetchWhole(network);
    } finally {
      coarseClock.mock.restore();
    }
    assert.deepEqual(got, BODY);
    assert.deepEqual(relays[1].ranges, ["bytes=2000-"]);
    assert.equal(relays[0].ranges.at(-1), "bytes=2000-");

    const fresh = await fakeNetwork();
    fresh.relays[0].ignoresRange = true;
    const part = await fetchWhole(fresh.network, { start: 1500, end: 3500 });
    assert.deepEqual(part, BODY.slice(1500, 3500), "the asked range, out of a 200");
    await fresh.network.acknowledgeAll();
    assert.equal(fresh.network.totals().received, fresh.relays[0].delivered, "every byte read is counted");
    noProblems();
    fresh.noProblems();
  });

  it("leaves a relay that answers a range far into an object with the whole of it", async () => {
    // Every byte received is paid for: skipping 4500 bytes of a 200 would pay for them.
    const { network, relays, noProblems } = await fakeNetwork({ maxObjectBytes: 4096 });
    relays[0].ignoresRange = true;
    assert.deepEqual(await fetchWhole(network, { start: 4500, end: 4600 }), BODY.slice(4500, 4600));
    assert.equal(relays[0].delivered, 0n, "its answer was not read");
    assert.equal(network.failovers, 1);
    assert.deepEqual(relays[1].ranges, ["bytes=4500-4599"]);
    noProblems();
  });

  it("leaves a relay whose epoch goes back", async () => {
    const { network, relays, noProblems } = await fakeNetwork();
    assert.deepEqual(await fetchWhole(network), BODY);
    relays[0].epoch = "6";
    assert.deepEqual(await fetchWhole(network), BODY);
    assert.equal(network.failovers, 1);
    assert.equal(relays[1].delivered, 5000n, "the other relay served it");
    assert.equal(network.relays[0].epochs.length, 1, "no count opened for the old epoch");
    noProblems();
  });

  it("refuses an object over the size limit without blaming the relay", async () => {
    const { network, relays, noProblems } = await fakeNetwork({ maxObjectBytes: 4096 });
    await assert.rejects(fetchWhole(network), ObjectTooLarge);
    assert.equal(network.failovers, 0);
    assert.equal(relays[0].delivered, 0n, "refused on its Content-Length, before the body");
    await assert.rejects(fetchWhole(network, { start: 0, end: 8192 }), ObjectTooLarge);
    await assert.rejects(fetchWhole(network, { start: 10, end: 10 }), RangeError);
    assert.deepEqual(await fetchWhole(network, { start: 0, end: 4000 }), BODY.slice(0, 4000));
    noProblems();
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
