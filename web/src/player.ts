// The watch page (`/watch/<stream>` on the gateway): hls.js playing the stream through the
// relays with this project's loader, a quality picker, and a panel showing the relay in use,
// bytes received and acknowledged, and failovers. `window.mediaPlayer.stats()` reports the
// same for tests and the curious.
import Hls, { ErrorTypes, Events } from "hls.js";
import { loaderFor, PLACEHOLDER_BASE } from "./loader";
import { MediaNetwork } from "./network";
import { createSigner } from "./signer";

interface PageConfig {
  /** The gateway, relative to the page ("/"). */
  gateway: string;
  stream: string;
  /** The master playlist's path under the consumer ("live/main/master.m3u8"). */
  playlist: string;
  /** Relays to use when the gateway lists none. */
  relays: string[];
}

interface PlayerState {
  status: string;
  firstFrameMs: number | null;
  rebuffers: number;
  errors: string[];
  signer: string | null;
  network: MediaNetwork | null;
  hls: Hls | null;
}

const state: PlayerState = {
  status: "starting",
  firstFrameMs: null,
  rebuffers: 0,
  errors: [],
  signer: null,
  network: null,
  hls: null,
};

function stats() {
  const network = state.network;
  const video = document.querySelector("video");
  const totals = network?.totals();
  const level = state.hls && state.hls.currentLevel >= 0 ? state.hls.levels[state.hls.currentLevel] : null;
  return {
    status: state.status,
    firstFrameMs: state.firstFrameMs,
    rebuffers: state.rebuffers,
    errors: state.errors.slice(-20),
    signer: state.signer,
    currentTime: video?.currentTime ?? 0,
    /** Seconds of media actually played (a live stream's currentTime starts far from 0). */
    playedSeconds: video ? played(video.played) : 0,
    readyState: video?.readyState ?? 0,
    videoError: video?.error ? `${video.error.code} ${video.error.message}` : null,
    level: level ? { width: level.width, height: level.height, codecs: `${level.videoCodec},${level.audioCodec}` } : null,
    relay: network ? network.relays[network.current]?.url : null,
    failovers: network?.failovers ?? 0,
    received: totals ? totals.received.toString() : "0",
    acked: totals ? totals.acked.toString() : "0",
    relays: (network?.relays ?? []).map((r) => ({
      url: r.url,
      nodeKey: r.nodeKey ?? null,
      epochs: r.epochs.map((e) => ({
        nodeKey: e.nodeKey,
        epoch: e.epoch.toString(),
        received: e.received.toString(),
        acked: e.acked.toString(),
      })),
    })),
  };
}

/** Stops loading, lets the loads under way finish (10 s at most), and acknowledges
 * everything received: after it, no byte arrives unacknowledged. */
async function stop(): Promise<void> {
  state.hls?.stopLoad();
  const deadline = Date.now() + 10_000;
  while ((state.network?.loading ?? 0) > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  state.status = "stopped";
  await state.network?.acknowledgeAll();
}

declare global {
  interface Window {
    mediaPlayer: { stats: typeof stats; acknowledgeAll: () => Promise<void>; stop: typeof stop };
  }
}
window.mediaPlayer = { stats, acknowledgeAll: async () => state.network?.acknowledgeAll(), stop };

/** How often the page reads the gateway's relay listing again while it plays. */
const REFRESH_RELAYS_MS = 60_000;

function played(ranges: TimeRanges): number {
  let total = 0;
  for (let i = 0; i < ranges.length; i++) total += ranges.end(i) - ranges.start(i);
  return total;
}

function text(id: string, value: string) {
  const element = document.getElementById(id);
  if (element) element.textContent = value;
}

function bytes(value: string): string {
  const n = Number(value);
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function render() {
  const s = stats();
  text("status", s.status);
  text("relay", s.relay ?? "none");
  text("received", bytes(s.received));
  text("acked", bytes(s.acked));
  text("failovers", String(s.failovers));
  text("level", s.level ? `${s.level.height}p` : "…");
}

function fail(why: string) {
  state.status = why;
  state.errors.push(why);
  render();
}

async function main() {
  const configText = document.getElementById("media-config")?.textContent ?? "{}";
  const config = JSON.parse(configText) as PageConfig;
  const video = document.querySelector("video") as HTMLVideoElement;
  setInterval(render, 500);
  if (!Hls.isSupported()) return fail("this browser has no Media Source Extensions");
  const signer = await createSigner();
  state.signer = signer.kind;
  state.status = "asking the gateway for a session";
  const gateway = new URL(config.gateway || "/", location.href).toString();
  const network = await MediaNetwork.join({ gateway, relays: config.relays ?? [] }, signer);
  state.network = network;
  state.status = "loading";
  const hls = new Hls({
    loader: loaderFor(network),
    liveSyncDurationCount: 3,
    // The loader fails over between relays itself; hls.js's own retries come on top.
    fragLoadPolicy: {
      default: {
        maxTimeToFirstByteMs: 20_000,
        maxLoadTimeMs: 60_000,
        timeoutRetry: { maxNumRetry: 4, retryDelayMs: 500, maxRetryDelayMs: 4000 },
        errorRetry: { maxNumRetry: 6, retryDelayMs: 500, maxRetryDelayMs: 4000 },
      },
    },
  });
  state.hls = hls;
  hls.on(Events.MANIFEST_PARSED, () => {
    const picker = document.getElementById("quality") as HTMLSelectElement | null;
    if (picker) {
      hls.levels.forEach((level, i) => {
        const option = document.createElement("option");
        option.value = String(i);
        option.textContent = `${level.height}p`;
        picker.append(option);
      });
      picker.onchange = () => {
        hls.currentLevel = Number(picker.value);
      };
    }
    video.play().catch(() => undefined);
  });
  hls.on(Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    const why = data.error?.message ?? data.reason;
    state.errors.push(`${data.type}: ${data.details}${why ? ` (${why})` : ""}`);
    if (data.type === ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    else setTimeout(() => hls.startLoad(), 1000);
  });
  const firstFrame = () => {
    if (state.firstFrameMs === null) {
      state.firstFrameMs = performance.now();
      state.status = "playing";
      render();
    }
  };
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(firstFrame);
  video.addEventListener("playing", () => {
    firstFrame();
    state.status = "playing";
  });
  video.addEventListener("waiting", () => {
    if (state.firstFrameMs !== null) {
      state.rebuffers++;
      state.status = "buffering";
    }
  });
  window.addEventListener("pagehide", () => void network.acknowledgeAll());
  setInterval(() => void network.refreshRelays(), REFRESH_RELAYS_MS);
  hls.loadSource(PLACEHOLDER_BASE + config.playlist);
  hls.attachMedia(video);
}

main().catch((e) => fail(`could not start: ${e?.message ?? e}`));
