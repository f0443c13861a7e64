// Drives Debian's Chromium (playwright-core, nothing downloaded) on a watch page, for
// tests/browser.rs. Usage: node tests/browser/watch.mjs <watch-url>
// It answers commands read from stdin, one per line, with one JSON line each on stdout:
//   codecs                 which codecs this Chromium's MSE takes (MediaSource.isTypeSupported)
//   play-until <seconds>   waits until <seconds> of video have played, then stats
//   stats                  the page's mediaPlayer.stats()
//   screenshot <path>      a PNG of the page
//   acknowledge            the page acknowledges everything it received, then stats
//   stop                   the player stops loading, waits for the loads under way, and
//                          acknowledges everything, then stats
//   quit
// The page's console goes to stderr.
import { chromium } from "playwright-core";
import readline from "node:readline";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node tests/browser/watch.mjs <watch-url>");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Without the background-networking flags Chromium keeps calling home, which this
  // machine's closed network refuses; autoplay so the muted video starts on its own.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
page.on("console", (message) => console.error(`page ${message.type()}: ${message.text()}`));
page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
await page.goto(url);

const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const stats = () => page.evaluate(() => window.mediaPlayer.stats());

async function playUntil(seconds) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const now = await stats();
    if (now.playedSeconds > seconds) return { event: "reached", stats: now };
    if (Date.now() > deadline) return { event: "timeout", stats: now };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command, argument] = line.trim().split(/\s+/, 2);
  try {
    if (command === "codecs") {
      say({
        event: "codecs",
        supported: await page.evaluate(() => {
          const candidates = [
            'video/mp4; codecs="avc1.42c01e,mp4a.40.2"',
            'video/mp4; codecs="avc1.4d401f,mp4a.40.2"',
            'video/mp4; codecs="avc1.64001f,mp4a.40.2"',
            'video/mp4; codecs="hvc1.1.6.L93.B0"',
            'video/mp4; codecs="av01.0.05M.08"',
            'video/webm; codecs="vp9,opus"',
            'video/mp2t; codecs="avc1.42c01e,mp4a.40.2"',
          ];
          return Object.fromEntries(candidates.map((c) => [c, MediaSource.isTypeSupported(c)]));
        }),
      });
    } else if (command === "play-until") {
      say(await playUntil(Number(argument)));
    } else if (command === "stats") {
      say({ event: "stats", stats: await stats() });
    } else if (command === "screenshot") {
      await page.screenshot({ path: argument });
      say({ event: "screenshot", path: argument });
    } else if (command === "acknowledge") {
      await page.evaluate(() => window.mediaPlayer.acknowledgeAll());
      say({ event: "acknowledged", stats: await stats() });
    } else if (command === "stop") {
      await page.evaluate(() => window.mediaPlayer.stop());
      say({ event: "stopped", stats: await stats() });
    } else if (command === "quit") {
      break;
    } else {
      say({ event: "error", error: `unknown command ${command}` });
    }
  } catch (error) {
    say({ event: "error", error: String(error?.message ?? error) });
  }
}
await browser.close();
