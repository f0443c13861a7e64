// The browser's side of the data plane (docs/relay-protocol.md): a session token from the
// gateway for a fresh session key, objects fetched through relays with it, every body byte
// acknowledged with a signed viewer receipt as it arrives (in the background, so the relay's
// credit window never runs dry), and a move to another relay, resuming with Range, when one
// fails or stalls.
import { decodeAddress, viewerReceiptMessage } from "./receipt";
import { Signer } from "./signer";
import { base58Encode, base64UrlEncode, parseSessionToken, SessionToken } from "./wire";

export interface NetworkOptions {
  /** The gateway's base URL (the page's own origin when served by it). */
  gateway: string;
  /** Relays to use when the gateway lists none. */
  relays: string[];
  /** Acknowledge at least every this many bytes (well under the relays' credit window). */
  ackEvery?: number;
  /** A relay that sends no byte for this long is left. */
  stallMs?: number;
  /** An object larger than this is not loaded (a 2 s segment at 50 Mb/s is 12.5 MB). */
  maxObjectBytes?: number;
  fetch?: typeof fetch;
}

/** What the page received from, and acknowledged to, one relay under one node key in one
 * epoch: receipts for these bytes are signed for that key, whatever the relay says later. */
export interface EpochCount {
  nodeKey: string;
  epoch: bigint;
  received: bigint;
  acked: bigint;
  /** The post under way, which also makes any asked for while it was out. */
  inflight: Promise<void> | null;
  again: boolean;
}

/** Distinct epochs a relay may count under (epochs last minutes to days; a relay past this is
 * inventing them). */
export const MAX_EPOCHS_PER_RELAY = 256;

export interface Relay {
  url: string;
  /** The node key the chain lists for this relay (from the gateway's `/.media/relays`): a
   * relay answering under another key is left. */
  listedKey?: string;
  /** The key it last answered under. */
  nodeKey?: string;
  epochs: EpochCount[];
  failures: number;
  benchedUntil: number;
  /** When it was last benched, in the order of benching (not of the clock, which can give
   * two relays the same millisecond): of relays back at the same time, the one left first
   * is asked first. */
  benchedOrder: number;
  /** 402s in a row that acknowledging did not settle. */
  unpaid: number;
}

/** A relay as the gateway lists it. */
export interface ListedRelay {
  url: string;
  nodeKey?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_RELAYS = 16;
const RENEW_BEFORE_SECS = 60n;
const MAX_BACKOFF_MS = 30_000;
const GATEWAY_TIMEOUT_MS = 10_000;
/** Of a refusal's body, only this much is read (it is for the log). */
const MAX_ERROR_BODY = 4096;
/** JSON answers (a token, a listing, a receipt's ack) larger than this are refused. */
const MAX_JSON_BODY = 256 << 10;
const DEFAULT_MAX_OBJECT_BYTES = 64 << 20;
/** A relay answering 402 this many times in a row with nothing left to acknowledge is left. */
const MAX_UNPAID = 3;

/** The object is larger than the page loads: no relay is to blame, so none is tried. */
export class ObjectTooLarge extends Error {}

/** Relay base URLs: http(s) only, without a trailing slash, at most MAX_RELAYS. */
export function relayUrls(candidates: unknown[]): string[] {
  const out: string[] = [];
  for (const candidate of candidates) {
    if (typeof candidate !== "string") continue;
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    if (url.username || url.password || url.search || url.hash) continue;
    const base = url.toString().replace(/\/+$/, "");
    if (!out.includes(base)) out.push(base);
    if (out.length >= MAX_RELAYS) break;
  }
  return out;
}

async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await work(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

function newRelay(listed: ListedRelay): Relay {
  return { url: listed.url, listedKey: listed.nodeKey, epochs: [], failures: 0, benchedUntil: 0, benchedOrder: 0, unpaid: 0 };
}

function backSooner(a: Relay, b: Relay): boolean {
  return a.benchedUntil < b.benchedUntil || (a.benchedUntil === b.benchedUntil && a.benchedOrder < b.benchedOrder);
}

export class MediaNetwork {
  readonly relays: Relay[] = [];
  failovers = 0;
  current = 0;
  private benchings = 0;
  /** Objects being fetched now. */
  loading = 0;
  private token!: SessionToken;
  private renewing: Promise<void> | null = null;
  private readonly ackEvery: bigint;
  private readonly stallMs: number;
  private readonly maxObjectBytes: number;
  private readonly http: typeof fetch;

  private constructor(
    readonly options: NetworkOptions,
    readonly signer: Signer,
  ) {
    this.ackEvery = BigInt(options.ackEvery ?? 256 << 10);
    this.stallMs = options.stallMs ?? 4000;
    this.maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    this.http = options.fetch ?? fetch.bind(globalThis);
  }

  /** A session: a token for `signer`'s key, and the relays the gateway lists (else the
   * configured ones). */
  static async join(options: NetworkOptions, signer: Signer): Promise<MediaNetwork> {
    const network = new MediaNetwork(options, signer);
    await network.renew();
    const listed = await network.listedRelays();
    const relays = listed.length > 0 ? listed : relayUrls(options.relays).map((url) => ({ url }));
    if (relays.length === 0) throw new Error("no relay: the gateway lists none and the page names none");
    for (const relay of relays) network.relays.push(newRelay(relay));
    return network;
  }

  /** Reads the gateway's listing again: relays that joined are added (up to MAX_RELAYS),
   * and a listed relay's node key is what the chain says now. */
  async refreshRelays(): Promise<void> {
    for (const listed of await this.listedRelays()) {
      const known = this.relays.find((r) => r.url === listed.url);
      if (known) known.listedKey = listed.nodeKey;
      else if (this.relays.length < MAX_RELAYS) this.relays.push(newRelay(listed));
    }
  }

  get consumer(): string {
    return base58Encode(this.token.consumer);
  }

  get maxBytes(): bigint {
    return this.token.maxBytes;
  }

  private gatewayUrl(path: string): string {
    return new URL(path, this.options.gateway.replace(/\/*$/, "/")).toString();
  }

  /** A new token for the same session key (the first, or one about to expire). */
  private async renew(): Promise<void> {
    const answer = await withTimeout(GATEWAY_TIMEOUT_MS, (signal) =>
      this.http(this.gatewayUrl("session"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session_key: base58Encode(this.signer.publicKey) }),
        signal,
      }),
    );
    if (!answer.ok) {
      throw new HttpError(answer.status, `the gateway refused a session: ${await errorText(answer)}`);
    }
    const body = await readJson(answer);
    const token = parseSessionToken(String(body.token));
    if (base58Encode(token.sessionKey) !== base58Encode(this.signer.publicKey)) {
      throw new Error("the gateway's token is for another session key");
    }
    this.token = token;
  }

  private async tokenText(): Promise<string> {
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (this.token.expiresAt - now < RENEW_BEFORE_SECS) {
      this.renewing ??= this.renew().finally(() => (this.renewing = null));
      try {
        await this.renewing;
      } catch (e) {
        console.warn("renewing the session token failed", e);
      }
    }
    return this.token.text;
  }

  private async listedRelays(): Promise<ListedRelay[]> {
    try {
      const body = await withTimeout(GATEWAY_TIMEOUT_MS, async (signal) => {
        const answer = await this.http(this.gatewayUrl(".media/relays"), { signal });
        if (!answer.ok) {
          await answer.body?.cancel();
          return null;
        }
        return readJson(answer);
      });
      const entries: unknown[] = Array.isArray(body?.relays) ? body.relays : [];
      const out: ListedRelay[] = [];
      for (const entry of entries) {
        const { endpoint, node_key: nodeKey } = (entry ?? {}) as { endpoint?: unknown; node_key?: unknown };
        const [url] = relayUrls([endpoint]);
        if (!url || out.some((r) => r.url === url) || typeof nodeKey !== "string") continue;
        try {
          decodeAddress(nodeKey);
        } catch {
          continue;
        }
        out.push({ url, nodeKey });
        if (out.length >= MAX_RELAYS) break;
      }
      return out;
    } catch {
      return [];
    }
  }

  /** The relay to ask now, `avoid` aside: the current one unless it is benched, else the
   * next usable, else (every one benched) the one back soonest, and of those back at once
   * the one left first (not the one that failed just now). */
  private choose(now: number, avoid: Set<Relay>): Relay {
    let pick = -1;
    for (let i = 0; i < this.relays.length; i++) {
      const index = (this.current + i) % this.relays.length;
      const relay = this.relays[index];
      if (avoid.has(relay)) continue;
      if (relay.benchedUntil <= now) {
        pick = index;
        break;
      }
      if (pick < 0 || backSooner(relay, this.relays[pick])) pick = index;
    }
    if (pick < 0) pick = this.current;
    if (pick !== this.current) {
      this.failovers++;
      this.current = pick;
    }
    return this.relays[pick];
  }

  private bench(relay: Relay, why: string): void {
    relay.failures++;
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(relay.failures - 1, 5));
    relay.benchedUntil = Date.now() + backoff;
    relay.benchedOrder = ++this.benchings;
    console.warn(`leaving relay ${relay.url} for ${backoff} ms: ${why}`);
  }

  /** The count this answer's bytes go to, by the relay's node key and epoch; a new one
   * starts at 0 after what the last one received is acknowledged. A string says why the
   * answer cannot be counted (the relay is then left). */
  private observe(relay: Relay, headers: Headers): EpochCount | string {
    const nodeKey = headers.get("x-media-node-key");
    const epochText = headers.get("x-media-epoch");
    if (!nodeKey || !epochText || !/^\d{1,20}$/.test(epochText)) return "no x-media headers";
    if (relay.listedKey !== undefined && nodeKey !== relay.listedKey) {
      return `answered as node ${nodeKey}, the chain lists ${relay.listedKey}`;
    }
    if (relay.nodeKey !== nodeKey) {
      try {
        decodeAddress(nodeKey);
      } catch {
        return "an x-media-node-key that is not a key";
      }
      relay.nodeKey = nodeKey;
    }
    const epoch = BigInt(epochText);
    let count: EpochCount | undefined;
    for (let i = relay.epochs.length - 1; i >= 0 && !count; i--) {
      const e = relay.epochs[i];
      if (e.epoch === epoch && e.nodeKey === nodeKey) count = e;
    }
    if (!count) {
      const previous = relay.epochs[relay.epochs.length - 1];
      // Epochs only move on; a relay inventing new ones would grow this list without end.
      if (previous && previous.nodeKey === nodeKey && epoch < previous.epoch) {
        return `epoch ${epoch} after epoch ${previous.epoch}`;
      }
      if (relay.epochs.length >= MAX_EPOCHS_PER_RELAY) return `more than ${MAX_EPOCHS_PER_RELAY} epochs`;
      count = { nodeKey, epoch, received: 0n, acked: 0n, inflight: null, again: false };
      relay.epochs.push(count);
      if (previous) void this.acknowledge(relay, previous);
    }
    return count;
  }

  /** Signs and posts a receipt for everything `count` received; one post at a time per
   * epoch, and one asked for while a post is out is made when it returns. Resolves once the
   * relay has answered for everything received when it was called. */
  acknowledge(relay: Relay, count: EpochCount): Promise<void> {
    if (count.inflight) {
      count.again = true;
      return count.inflight;
    }
    if (count.received <= count.acked) return Promise.resolve();
    count.inflight = this.post(relay, count).finally(() => (count.inflight = null));
    return count.inflight;
  }

  private async post(relay: Relay, count: EpochCount): Promise<void> {
    try {
      do {
        count.again = false;
        const cumulative = count.received;
        const message = viewerReceiptMessage({
          config: this.token.config,
          consumer: this.token.consumer,
          nodeKey: decodeAddress(count.nodeKey),
          sessionKey: this.signer.publicKey,
          epoch: count.epoch,
          cumulative,
        });
        const receipt = base64UrlEncode(await this.signer.sign(message));
        // keepalive: a receipt posted as the page goes away still arrives.
        const body = await withTimeout(this.stallMs, async (signal) => {
          const answer = await this.http(`${relay.url}/.media/receipt`, {
            method: "POST",
            body: receipt,
            signal,
            keepalive: true,
          });
          if (!answer.ok) throw new Error(`refused: ${answer.status} ${await errorText(answer)}`);
          return readJson(answer);
        });
        const acked = BigInt(Math.max(0, Math.floor(Number(body?.acked ?? 0))));
        if (acked > count.acked && acked <= cumulative) count.acked = acked;
      } while (count.again && count.received > count.acked);
    } catch (e) {
      console.warn(`a receipt for ${relay.url} was not taken`, e);
    }
  }

  /** Acknowledges everything received from every relay (a page leaving). */
  async acknowledgeAll(): Promise<void> {
    await Promise.all(this.relays.flatMap((r) => r.epochs.map((e) => this.acknowledge(r, e))));
  }

  /** `path` of the consumer (`live/main/master.m3u8`) through the relays; `range` is a byte
   * range hls.js asked for (`end` exclusive). A transfer cut short resumes on the next relay
   * from the bytes already here. */
  async fetchObject(
    path: string,
    range: { start: number; end?: number } | null,
    signal: AbortSignal,
    onFirstByte?: () => void,
  ): Promise<Uint8Array> {
    this.loading++;
    try {
      return await this.fetchThroughRelays(path, range, signal, onFirstByte);
    } finally {
      this.loading--;
    }
  }

  private async fetchThroughRelays(
    path: string,
    range: { start: number; end?: number } | null,
    signal: AbortSignal,
    onFirstByte?: () => void,
  ): Promise<Uint8Array> {
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) throw new RangeError(`${path}: an empty range ${start}-${end}`);
    if (end !== undefined && end - start > this.maxObjectBytes) {
      throw new ObjectTooLarge(`${path}: a range over ${this.maxObjectBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let got = 0;
    /** Relays that refused this object (4xx): another may have it. */
    const refusedBy = new Set<Relay>();
    let attempts = 0;
    const maxAttempts = this.relays.length * 3 + 3;
    let lastError: Error = new Error("no relay was asked");
    while (attempts++ < maxAttempts) {
      if (signal.aborted) throw new DOMException("aborted", "AbortError");
      const relay = this.choose(Date.now(), refusedBy);
      // Every relay benched: wait for the first to come back rather than hammer it.
      await sleep(relay.benchedUntil - Date.now(), signal);
      const offset = start + got;
      const headers: Record<string, string> = { "x-media-session": await this.tokenText() };
      if (offset > 0 || end !== undefined) {
        headers.range = `bytes=${offset}-${end !== undefined ? end - 1 : ""}`;
      }
      const controller = new AbortController();
      const abort = () => controller.abort();
      signal.addEventListener("abort", abort);
      let stalled = false;
      let timer = setTimeout(() => ((stalled = true), controller.abort()), this.stallMs);
      const alive = () => {
        clearTimeout(timer);
        timer = setTimeout(() => ((stalled = true), controller.abort()), this.stallMs);
      };
      try {
        const url = `${relay.url}/c/${this.consumer}/${path}`;
        const answer = await this.http(url, { headers, signal: controller.signal, cache: "no-store" });
        const count = this.observe(relay, answer.headers);
        if (answer.status >= 400 && answer.status !== 402 && answer.status !== 429 && answer.status < 500) {
          // This relay will not serve it; another may (a relay cannot deny an object alone).
          lastError = new HttpError(answer.status, `relay ${relay.url}: ${answer.status} ${await errorText(answer)}`);
          refusedBy.add(relay);
          if (refusedBy.size >= this.relays.length) break;
          continue;
        }
        if (typeof count === "string") {
          await answer.body?.cancel();
          this.bench(relay, count);
          lastError = new Error(`relay ${relay.url}: ${count}`);
          continue;
        }
        if (answer.status === 402) {
          // The credit window is used up: acknowledge, then ask again. A relay that keeps
          // asking though everything is acknowledged is left.
          await answer.body?.cancel();
          const before = count.acked;
          await this.acknowledge(relay, count);
          relay.unpaid = count.acked > before ? 0 : relay.unpaid + 1;
          if (relay.unpaid >= MAX_UNPAID) {
            relay.unpaid = 0;
            this.bench(relay, `402 ${MAX_UNPAID} times with every byte acknowledged`);
            lastError = new HttpError(402, `relay ${relay.url} keeps asking for payment`);
          } else {
            await sleep(50, signal);
          }
          continue;
        }
        if (!answer.ok) {
          this.bench(relay, `answered ${answer.status}`);
          lastError = new HttpError(answer.status, `relay ${relay.url}: ${answer.status} ${await errorText(answer)}`);
          continue;
        }
        relay.unpaid = 0;
        if (!answer.body) {
          this.bench(relay, "no body");
          lastError = new Error(`relay ${relay.url} sent no body`);
          continue;
        }
        // A 206 must start where asked; a 200 is the whole object, read past what is here.
        let skip = 0;
        if (answer.status === 206) {
          const from = contentRangeStart(answer.headers.get("content-range"));
          if (from !== offset) {
            await answer.body.cancel();
            this.bench(relay, `Content-Range ${answer.headers.get("content-range")} for bytes=${offset}-`);
            lastError = new Error(`relay ${relay.url} sent the wrong range`);
            continue;
          }
        } else if (headers.range) {
          skip = offset;
          // Every byte received is paid for, skipped ones too: a relay answering a range far
          // into an object with the whole of it would be paid for all that comes before.
          if (skip > this.maxObjectBytes) {
            await answer.body.cancel();
            this.bench(relay, `answered bytes=${offset}- with the whole object`);
            lastError = new Error(`relay ${relay.url} ignored the range`);
            continue;
          }
        }
        // What this answer may bring: the rest of the object, and what a 200 makes us skip.
        const allowed = this.maxObjectBytes - got + skip;
        const declared = Number(answer.headers.get("content-length") ?? NaN);
        if (Number.isFinite(declared) && declared > allowed) {
          await answer.body.cancel();
          throw new ObjectTooLarge(`${path}: ${declared} bytes, over ${this.maxObjectBytes}`);
        }
        const reader = answer.body.getReader();
        let brought = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          alive();
          count.received += BigInt(value.length);
          brought += value.length;
          if (brought > allowed) {
            await reader.cancel();
            if (count.received - count.acked > 0n) void this.acknowledge(relay, count);
            throw new ObjectTooLarge(`${path}: over ${this.maxObjectBytes} bytes`);
          }
          if (count.received - count.acked >= this.ackEvery) void this.acknowledge(relay, count);
          let piece = value;
          if (skip > 0) {
            const dropped = Math.min(skip, piece.length);
            skip -= dropped;
            piece = piece.subarray(dropped);
          }
          if (end !== undefined && start + got + piece.length > end) piece = piece.subarray(0, end - start - got);
          if (piece.length === 0) continue;
          if (got === 0) onFirstByte?.();
          chunks.push(piece);
          got += piece.length;
          if (got > this.maxObjectBytes) {
            await reader.cancel();
            throw new ObjectTooLarge(`${path}: over ${this.maxObjectBytes} bytes`);
          }
          if (end !== undefined && start + got >= end) {
            await reader.cancel();
            break;
          }
        }
        void this.acknowledge(relay, count);
        if (skip > 0) {
          this.bench(relay, "a whole object shorter than the bytes already here");
          lastError = new Error(`relay ${relay.url} sent a shorter object`);
          continue;
        }
        relay.failures = 0;
        return concat(chunks, got);
      } catch (e) {
        if (e instanceof ObjectTooLarge) throw e;
        if (signal.aborted) throw new DOMException("aborted", "AbortError");
        this.bench(relay, stalled ? `no byte for ${this.stallMs} ms` : String(e));
        lastError = e instanceof Error ? e : new Error(String(e));
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
      }
    }
    const why = `${path}: no relay served it (${this.relays.length} relays, ${attempts - 1} attempts); last: ${lastError.message}`;
    throw lastError instanceof HttpError ? new HttpError(lastError.status, why) : new Error(why);
  }

  /** Totals over every relay and epoch, for the panel and tests. */
  totals(): { received: bigint; acked: bigint } {
    let received = 0n;
    let acked = 0n;
    for (const relay of this.relays) {
      for (const e of relay.epochs) {
        received += e.received;
        acked += e.acked;
      }
    }
    return { received, acked };
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The start of `bytes A-B/T`, or null. */
export function contentRangeStart(header: string | null): number | null {
  const match = header ? /^bytes (\d{1,15})-\d{1,15}\/(\d{1,15}|\*)$/.exec(header.trim()) : null;
  return match ? Number(match[1]) : null;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** At most `max` bytes of the body, and whether that was all of it (the rest is not read). */
async function readUpTo(answer: Response, max: number): Promise<{ bytes: Uint8Array; whole: boolean }> {
  if (!answer.body) return { bytes: new Uint8Array(0), whole: true };
  const reader = answer.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: concat(chunks, length), whole: true };
    const room = max - length;
    chunks.push(value.subarray(0, Math.max(0, room)));
    length += Math.min(value.length, Math.max(0, room));
    if (value.length > room) {
      await reader.cancel();
      return { bytes: concat(chunks, length), whole: false };
    }
  }
}

/** A JSON body of at most MAX_JSON_BODY bytes. */
async function readJson(answer: Response): Promise<any> {
  const { bytes, whole } = await readUpTo(answer, MAX_JSON_BODY);
  if (!whole) throw new Error(`an answer over ${MAX_JSON_BODY} bytes`);
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The start of a refusal's body, for the log. */
async function errorText(answer: Response): Promise<string> {
  try {
    const { bytes, whole } = await readUpTo(answer, MAX_ERROR_BODY);
    return new TextDecoder().decode(bytes) + (whole ? "" : "…");
  } catch {
    return "";
  }
}
