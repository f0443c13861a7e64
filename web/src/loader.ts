// hls.js's loader for playlists and segments, fetching through the relays with the session.
// hls.js is given URLs under a placeholder base; only paths under it are fetched, so a
// playlist naming another host cannot send the page anywhere else.
import { LoadStats } from "hls.js";
import type { HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats } from "hls.js";
import { HttpError, MediaNetwork } from "./network";

export const PLACEHOLDER_BASE = "https://relays.media-network.invalid/";

/** The consumer path a placeholder URL names, or null for anything outside it. */
export function pathOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const base = new URL(PLACEHOLDER_BASE);
  if (parsed.origin !== base.origin) return null;
  const path = parsed.pathname.replace(/^\/+/, "");
  if (path.length === 0 || path.split("/").some((part) => part === "" || part === "..")) return null;
  return path;
}

/** The byte range hls.js asks for, as hls.js's own loaders read it: `rangeEnd` 0 (or
 * absent) means to the end, so a fragment without a byte range is the whole object. */
export function rangeOf(context: { rangeStart?: number; rangeEnd?: number }): { start: number; end?: number } | null {
  const start = context.rangeStart ?? 0;
  if (context.rangeEnd) return { start, end: context.rangeEnd };
  return start > 0 ? { start } : null;
}

export function loaderFor(network: MediaNetwork) {
  return class RelayLoader implements Loader<LoaderContext> {
    context: LoaderContext | null = null;
    stats: LoaderStats = new LoadStats();
    private controller: AbortController | null = null;

    constructor(_config: HlsConfig) {}

    load(context: LoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
      this.context = context;
      const stats = (this.stats = new LoadStats());
      stats.loading.start = performance.now();
      const path = pathOf(context.url);
      if (path === null) {
        callbacks.onError({ code: 0, text: `not a stream URL: ${context.url}` }, context, null, stats);
        return;
      }
      const controller = (this.controller = new AbortController());
      const range = rangeOf(context);
      // hls.js's own limits on this load (its load policy): past them it is told of a
      // timeout and retries as its policy says, on top of the relays' failover inside.
      let firstByteTimer: ReturnType<typeof setTimeout> | undefined;
      let loadTimer: ReturnType<typeof setTimeout> | undefined;
      const clearTimers = () => {
        clearTimeout(firstByteTimer);
        clearTimeout(loadTimer);
      };
      const timedOut = () => {
        if (controller.signal.aborted) return;
        controller.abort();
        clearTimers();
        callbacks.onTimeout(stats, context, null);
      };
      const policy = config.loadPolicy;
      const firstByteLimit = policy?.maxTimeToFirstByteMs ?? config.timeout;
      const loadLimit = policy?.maxLoadTimeMs ?? config.timeout;
      if (Number.isFinite(firstByteLimit) && firstByteLimit > 0) firstByteTimer = setTimeout(timedOut, firstByteLimit);
      if (Number.isFinite(loadLimit) && loadLimit > 0) loadTimer = setTimeout(timedOut, loadLimit);
      const firstByte = () => {
        stats.loading.first = performance.now();
        clearTimeout(firstByteTimer);
      };
      network.fetchObject(path, range, controller.signal, firstByte).then(
        (bytes) => {
          clearTimers();
          if (controller.signal.aborted) return;
          stats.loading.end = performance.now();
          stats.loaded = stats.total = bytes.length;
          const data =
            context.responseType === "arraybuffer"
              ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
              : new TextDecoder().decode(bytes);
          callbacks.onSuccess({ url: context.url, data }, stats, context, null);
        },
        (error) => {
          clearTimers();
          if (controller.signal.aborted) return;
          const code = error instanceof HttpError ? error.status : 0;
          callbacks.onError({ code, text: String(error?.message ?? error) }, context, null, stats);
        },
      );
    }

    abort(): void {
      this.stats.aborted = true;
      this.controller?.abort();
    }

    destroy(): void {
      this.abort();
      this.context = null;
    }
  };
}
