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
  fetch?: typeof fetch;
}

/** What the page received from, and acknowledged to, one relay in one epoch. */
export interface EpochCount {
  epoch: bigint;
  received: bigint;
  acked: bigint;
  /** The post under way, which also makes any asked for while it was out. */
  inflight: Promise<void> | null;
  again: boolean;
}

export interface Relay {
  url: string;
  nodeKey?: string;
  epochs: EpochCount[];
  failures: number;
  benchedUntil: number;
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
/** A refusal's body is read only this far (it is for the log). */
const MAX_ERROR_BODY = 4096;

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

export class MediaNetwork {
  readonly relays: Relay[] = [];
  failovers = 0;
  current = 0;
  private token!: SessionToken;
  private renewing: Promise<void> | null = null;
  private readonly ackEvery: bigint;
  private readonly stallMs: number;
  private readonly http: typeof fetch;

  private constructor(
    readonly options: NetworkOptions,
    readonly signer: Signer,
  ) {
    this.ackEvery = BigInt(options.ackEvery ?? 256 << 10);
    this.stallMs = options.stallMs ?? 4000;
    this.http = options.fetch ?? fetch.bind(globalThis);
  }

  /** A session: a token for `signer`'s key, and the relays the gateway lists (else the
   * configured ones). */
  static async join(options: NetworkOptions, signer: Signer): Promise<MediaNetwork> {
    const network = new MediaNetwork(options, signer);
    await network.renew();
    const listed = await network.listedRelays();
    const urls = listed.length > 0 ? listed : relayUrls(options.relays);
    if (urls.length === 0) throw new Error("no relay: the gateway lists none and the page names none");
    for (const url of urls) network.relays.push({ url, epochs: [], failures: 0, benchedUntil: 0 });
    return network;
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
    const body = await answer.json();
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

  private async listedRelays(): Promise<string[]> {
    try {
      const answer = await withTimeout(GATEWAY_TIMEOUT_MS, (signal) =>
        this.http(this.gatewayUrl(".media/relays"), { signal }),
      );
      if (!answer.ok) return [];
      const body = await answer.json();
      const relays = Array.isArray(body?.relays) ? body.relays : [];
      return relayUrls(relays.map((r: { endpoint?: unknown }) => r?.endpoint));
    } catch {
      return [];
    }
  }

  /** The relay to ask now: the current one unless it is benched, else the next usable. */
  private choose(now: number): Relay {
    for (let i = 0; i < this.relays.length; i++) {
      const index = (this.current + i) % this.relays.length;
      if (this.relays[index].benchedUntil <= now) {
        if (index !== this.current) {
          this.failovers++;
          this.current = index;
        }
        return this.relays[index];
      }
    }
    // Every relay is benched: the one back soonest.
    let soonest = 0;
    for (let i = 1; i < this.relays.length; i++) {
      if (this.relays[i].benchedUntil < this.relays[soonest].benchedUntil) soonest = i;
    }
    if (soonest !== this.current) {
      this.failovers++;
      this.current = soonest;
    }
    return this.relays[soonest];
  }

  private bench(relay: Relay, why: string): void {
    relay.failures++;
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(relay.failures - 1, 5));
    relay.benchedUntil = Date.now() + backoff;
    console.warn(`leaving relay ${relay.url} for ${backoff} ms: ${why}`);
  }

  /** Learns the relay's key and epoch; a new epoch starts counting at 0 after what the old
   * one received is acknowledged. */
  private observe(relay: Relay, headers: Headers): EpochCount | null {
    const nodeKey = headers.get("x-media-node-key");
    const epochText = headers.get("x-media-epoch");
    if (!nodeKey || !epochText || !/^\d{1,20}$/.test(epochText)) return null;
    if (relay.nodeKey !== nodeKey) {
      try {
        decodeAddress(nodeKey);
      } catch {
        return null;
      }
      relay.nodeKey = nodeKey;
    }
    const epoch = BigInt(epochText);
    let count = relay.epochs.find((e) => e.epoch === epoch);
    if (!count) {
      const previous = relay.epochs[relay.epochs.length - 1];
      count = { epoch, received: 0n, acked: 0n, inflight: null, again: false };
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
    if (!relay.nodeKey || count.received <= count.acked) return Promise.resolve();
    count.inflight = this.post(relay, relay.nodeKey, count).finally(() => (count.inflight = null));
    return count.inflight;
  }

  private async post(relay: Relay, nodeKey: string, count: EpochCount): Promise<void> {
    try {
      do {
        count.again = false;
        const cumulative = count.received;
        const message = viewerReceiptMessage({
          config: this.token.config,
          consumer: this.token.consumer,
          nodeKey: decodeAddress(nodeKey),
          sessionKey: this.signer.publicKey,
          epoch: count.epoch,
          cumulative,
        });
        const receipt = base64UrlEncode(await this.signer.sign(message));
        const answer = await withTimeout(this.stallMs, (signal) =>
          this.http(`${relay.url}/.media/receipt`, { method: "POST", body: receipt, signal }),
        );
        if (answer.ok) {
          const body = await answer.json();
          const acked = BigInt(Math.max(0, Math.floor(Number(body.acked ?? 0))));
          if (acked > count.acked && acked <= cumulative) count.acked = acked;
        } else {
          console.warn(`relay ${relay.url} refused a receipt: ${answer.status} ${await errorText(answer)}`);
          return;
        }
      } while (count.again && count.received > count.acked);
    } catch (e) {
      console.warn(`posting a receipt to ${relay.url} failed`, e);
    }
  }

  /** Acknowledges everything received from every relay (a page leaving). */
  async acknowledgeAll(): Promise<void> {
    await Promise.all(this.relays.flatMap((r) => r.epochs.map((e) => this.acknowledge(r, e))));
  }

  /** `path` of the consumer (`live/main/master.m3u8`) through the relays; `range` is a byte
   * range hls.js asked for. */
  async fetchObject(
    path: string,
    range: { start: number; end?: number } | null,
    signal: AbortSignal,
    onFirstByte?: () => void,
  ): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let got = 0;
    const start = range?.start ?? 0;
    let attempts = 0;
    const maxAttempts = this.relays.length * 3 + 3;
    let lastError: Error = new Error("no attempt made");
    while (attempts++ < maxAttempts) {
      if (signal.aborted) throw new DOMException("aborted", "AbortError");
      const relay = this.choose(Date.now());
      const headers: Record<string, string> = { "x-media-session": await this.tokenText() };
      if (got > 0 || range) {
        headers.range = `bytes=${start + got}-${range?.end !== undefined ? range.end - 1 : ""}`;
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
        if (answer.status === 402) {
          // The credit window is used up: acknowledge, then ask again.
          await answer.body?.cancel();
          if (count) await this.acknowledge(relay, count);
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        if (answer.status >= 500 || answer.status === 429) {
          this.bench(relay, `answered ${answer.status}`);
          lastError = new HttpError(answer.status, await errorText(answer));
          continue;
        }
        if (!answer.ok) throw new HttpError(answer.status, await errorText(answer));
        if (!count || !answer.body) {
          this.bench(relay, "no x-media headers");
          lastError = new Error(`relay ${relay.url} did not say its epoch and key`);
          continue;
        }
        if (got > 0 && answer.status !== 206) {
          // The relay ignored the Range: start the object over.
          chunks.length = 0;
          got = 0;
        }
        const reader = answer.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          alive();
          if (got === 0 && chunks.length === 0) onFirstByte?.();
          chunks.push(value);
          got += value.length;
          count.received += BigInt(value.length);
          if (count.received - count.acked >= this.ackEvery) void this.acknowledge(relay, count);
        }
        void this.acknowledge(relay, count);
        relay.failures = 0;
        return concat(chunks, got);
      } catch (e) {
        if (e instanceof HttpError) throw e;
        if (signal.aborted) throw new DOMException("aborted", "AbortError");
        this.bench(relay, stalled ? `no byte for ${this.stallMs} ms` : String(e));
        lastError = e instanceof Error ? e : new Error(String(e));
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
      }
    }
    throw lastError;
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

async function errorText(answer: Response): Promise<string> {
  try {
    const text = await answer.text();
    return text.slice(0, MAX_ERROR_BODY);
  } catch {
    return "";
  }
}
