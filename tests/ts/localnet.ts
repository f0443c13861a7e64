// Starts a `media localnet` for the Anchor TypeScript tests and stops it after them: the
// stock @anchor-lang/core + @solana/web3.js clients talk to it exactly as to a validator
// (JSON-RPC on a port, PubSub on the next one).
import { spawn, ChildProcess } from "child_process";
import * as path from "path";
import * as readline from "readline";

export interface Localnet {
  rpcUrl: string;
  websocketUrl: string;
  deployment: {
    config: string;
    media_mint: string;
    payment_mint: string;
    authority: string;
    governance: string;
  };
  stop(): Promise<void>;
}

const root = path.resolve(__dirname, "..", "..");

/** The `media` binary: MEDIA_BIN, else the workspace's debug build under CARGO_TARGET_DIR. */
function mediaBinary(): string {
  if (process.env.MEDIA_BIN) return process.env.MEDIA_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");
  return path.join(target, "debug", "media");
}

/** Spawns `media localnet --port 0 --output json` and waits for its one line of JSON. */
export async function startLocalnet(epochSecs = 5): Promise<Localnet> {
  const child: ChildProcess = spawn(
    mediaBinary(),
    ["--output", "json", "localnet", "--port", "0", "--epoch-secs", String(epochSecs)],
    { stdio: ["ignore", "pipe", process.env.MEDIA_TS_LOGS ? "inherit" : "ignore"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await Promise.race([
    new Promise<string>((resolve) => lines.once("line", resolve)),
    exited.then((code) => {
      throw new Error(`media localnet exited (${code}) before it was ready`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("media localnet not ready after 120 s")), 120_000),
    ),
  ]);
  const ready = JSON.parse(first);
  return {
    rpcUrl: ready.rpc_url,
    websocketUrl: ready.websocket_url,
    deployment: ready.deployment,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The localnet's token faucet (not a Solana method): `amount` base units of `mint`. */
export async function tokenAirdrop(
  rpcUrl: string,
  owner: string,
  mint: string,
  amount: number,
): Promise<string> {
  const answer = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "requestTokenAirdrop",
      params: [owner, mint, amount],
    }),
  });
  const body = await answer.json();
  if (body.error) throw new Error(`requestTokenAirdrop: ${JSON.stringify(body.error)}`);
  return body.result;
}
