// `anchor migrate` entry point. Anchor calls this with a provider for the cluster in
// Anchor.toml (or --provider.cluster) and ANCHOR_WALLET set to the deployer's keypair.
// The bootstrap itself is Rust (migrations/src): this only runs it with the provider's
// cluster and wallet, so `anchor migrate`, `media-bootstrap` and `media localnet` share one
// idempotent procedure.
const { execFileSync } = require("child_process");
const path = require("path");

function planFor(endpoint: string): string {
  if (process.env.MEDIA_BOOTSTRAP_PLAN) return process.env.MEDIA_BOOTSTRAP_PLAN;
  if (endpoint.includes("devnet")) return "migrations/devnet.toml";
  if (endpoint.includes("mainnet")) return "migrations/mainnet.toml";
  return "migrations/localnet.toml";
}

module.exports = async function (provider: any) {
  const endpoint: string = provider.connection.rpcEndpoint;
  const wallet = process.env.ANCHOR_WALLET;
  if (!wallet) throw new Error("ANCHOR_WALLET is not set: run this through `anchor migrate`");
  const root = path.resolve(__dirname, "..");
  execFileSync(
    "cargo",
    [
      "run", "--release", "--locked", "-p", "media-migrations", "--bin", "media-bootstrap", "--",
      "--url", endpoint, "--keypair", wallet, "--plan", planFor(endpoint),
    ],
    { stdio: "inherit", cwd: root },
  );
};
