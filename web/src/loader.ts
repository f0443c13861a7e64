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

export function loaderFor(network: MediaNetwork) {
  return class RelayLoader implements Loader<LoaderContext> {
    context: LoaderContext | null = null;
    stats: LoaderStats = new LoadStats();
    private controller: AbortController | null = null;

    constructor(_config: HlsConfig) {}

    load(context: LoaderContext, _config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
      this.context = context;
      const stats = (this.stats = new LoadStats());
      stats.loading.start = performance.now();
      const path = pathOf(context.url);
      if (path === null) {
        callbacks.onError({ code: 0, text: `not a stream URL: ${context.url}` }, context, null, stats);
        return;
      }
      const controller = (this.controller = new AbortController());
      const range =
        context.rangeStart !== undefined && (context.rangeStart > 0 || context.rangeEnd !== undefined)
          ? { start: context.rangeStart, end: context.rangeEnd }
          : null;
      network
        .fetchObject(path, range, controller.signal, () => (stats.loading.first = performance.now()))
        .then(
          (bytes) => {
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
