// The Anchor TypeScript client against `media localnet`, as `anchor test` runs it in most
// Anchor projects: every call confirms through web3.js's WebSocket signatureSubscribe, every
// account type is read back through the committed IDLs, and a refused instruction surfaces
// as a named AnchorError.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as anchor from "@anchor-lang/core";
import { Keypair, LAMPORTS_PER_SOL, PublicKey } from "@solana/web3.js";
import { startLocalnet, tokenAirdrop, Localnet } from "./localnet";

const networkIdl = require("../../idl/media_network.json");
const governanceIdl = require("../../idl/media_governance.json");

const MEDIA = 1_000_000; // base units per MEDIA (6 decimals)
const BN = anchor.BN;
const TOKEN_PROGRAM = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
const ATA_PROGRAM = new PublicKey("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");

function associatedTokenAddress(owner: PublicKey, mint: PublicKey): PublicKey {
  return PublicKey.findProgramAddressSync(
    [owner.toBuffer(), TOKEN_PROGRAM.toBuffer(), mint.toBuffer()],
    ATA_PROGRAM,
  )[0];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("media localnet through @anchor-lang/core", () => {
  let localnet: Localnet;
  let network: anchor.Program;
  let governance: anchor.Program;
  let connection: anchor.web3.Connection;
  const owner = Keypair.generate();
  let mediaMint: PublicKey;
  let paymentMint: PublicKey;
  let config: any;
  let stakePda: PublicKey;

  before(async () => {
    localnet = await startLocalnet(5);
    connection = new anchor.web3.Connection(localnet.rpcUrl, {
      commitment: "confirmed",
      wsEndpoint: localnet.websocketUrl,
    });
    const provider = new anchor.AnchorProvider(connection, new anchor.Wallet(owner), {
      commitment: "confirmed",
    });
    network = new anchor.Program(networkIdl, provider);
    governance = new anchor.Program(governanceIdl, provider);
    mediaMint = new PublicKey(localnet.deployment.media_mint);
    paymentMint = new PublicKey(localnet.deployment.payment_mint);
    const funded = await connection.requestAirdrop(owner.publicKey, 10 * LAMPORTS_PER_SOL);
    const latest = await connection.getLatestBlockhash();
    await connection.confirmTransaction({ signature: funded, ...latest }, "confirmed");
    await tokenAirdrop(localnet.rpcUrl, owner.publicKey.toBase58(), mediaMint.toBase58(), 1_000 * MEDIA);
    await tokenAirdrop(localnet.rpcUrl, owner.publicKey.toBase58(), paymentMint.toBase58(), 100 * MEDIA);
    config = await (network.account as any).config.fetch(new PublicKey(localnet.deployment.config));
    stakePda = PublicKey.findProgramAddressSync(
      [Buffer.from("stake"), owner.publicKey.toBuffer()],
      network.programId,
    )[0];
  });

  after(async () => {
    // web3.js 1.x cannot be told to close its WebSocket for good (it reconnects): `npm test`
    // runs node's test runner with --test-force-exit, so that socket does not keep it alive.
    await localnet?.stop();
  });

  it("reads the deployment's Config through the IDL", () => {
    assert.ok(config.mediaMint.equals(mediaMint));
    assert.ok(config.paymentMint.equals(paymentMint));
    assert.equal(config.params.epochDurationSecs.toNumber(), 5);
  });

  it("refuses a zero stake with the program's named error", async () => {
    await assert.rejects(
      network.methods
        .stake(new BN(0))
        .accountsPartial({
          owner: owner.publicKey,
          source: associatedTokenAddress(owner.publicKey, mediaMint),
          stakeVault: config.stakeVault,
        })
        .rpc(),
      (err: any) => {
        assert.ok(err instanceof anchor.AnchorError, `not an AnchorError: ${err}`);
        assert.equal(err.error.errorCode.code, "ZeroAmount");
        assert.equal(err.error.errorCode.number, 6016);
        return true;
      },
    );
  });

  it("stakes and confirms over the WebSocket", async () => {
    const signature = await network.methods
      .stake(new BN(200 * MEDIA))
      .accountsPartial({
        owner: owner.publicKey,
        source: associatedTokenAddress(owner.publicKey, mediaMint),
        stakeVault: config.stakeVault,
      })
      .rpc();
    const status = await connection.getSignatureStatus(signature);
    assert.equal(status.value?.err, null);
    const stake = await (network.account as any).stakeAccount.fetch(stakePda);
    assert.ok(stake.owner.equals(owner.publicKey));
    assert.equal(stake.active.toNumber() + stake.warming.toNumber(), 200 * MEDIA);
  });

  it("is told of a stake account change through accountSubscribe", async () => {
    let subscription = 0;
    const changed = new Promise<anchor.web3.AccountInfo<Buffer>>((resolve) => {
      subscription = connection.onAccountChange(stakePda, resolve, { commitment: "confirmed" });
    });
    // The subscription is live once the server answered; give it that round trip.
    await sleep(500);
    await network.methods
      .stake(new BN(100 * MEDIA))
      .accountsPartial({
        owner: owner.publicKey,
        source: associatedTokenAddress(owner.publicKey, mediaMint),
        stakeVault: config.stakeVault,
      })
      .rpc();
    const info = await Promise.race([
      changed,
      sleep(20_000).then(() => {
        throw new Error("no accountNotification within 20 s");
      }),
    ]);
    await connection.removeAccountChangeListener(subscription);
    assert.ok(info.owner.equals(network.programId));
    const decoded = network.coder.accounts.decode("stakeAccount", info.data);
    assert.equal(decoded.active.toNumber() + decoded.warming.toNumber(), 300 * MEDIA);
  });

  it("registers a provider and a consumer, deposits fees, proposes and votes", async () => {
    // Bonds and proposals count warmed-up stake only.
    const stake = await (network.account as any).stakeAccount.fetch(stakePda);
    const warmAt = stake.warmAt.toNumber() * 1000;
    await sleep(Math.max(0, warmAt - Date.now()) + 1_500);

    const nodeKey = Keypair.generate();
    await network.methods
      .registerProvider({
        kind: { edge: {} },
        endpoint: "https://relay.example.net",
        region: "eu-west",
        bond: new BN(50 * MEDIA),
      })
      .accountsPartial({ owner: owner.publicKey, nodeKey: nodeKey.publicKey })
      .signers([nodeKey])
      .rpc();

    const receiptSigner = Keypair.generate();
    await network.methods
      .registerConsumer({
        bond: new BN(50 * MEDIA),
        receiptSigner: receiptSigner.publicKey,
        gatewayUrl: null,
      })
      .accountsPartial({ owner: owner.publicKey })
      .rpc();
    const consumerPda = PublicKey.findProgramAddressSync(
      [Buffer.from("consumer"), owner.publicKey.toBuffer()],
      network.programId,
    )[0];
    await network.methods
      .depositFees(new BN(10 * MEDIA))
      .accountsPartial({
        depositor: owner.publicKey,
        consumer: consumerPda,
        source: associatedTokenAddress(owner.publicKey, paymentMint),
        paymentVault: config.paymentVault,
      })
      .rpc();

    // Anchor's event listener (logsSubscribe, "Program data:" lines) hears the proposal.
    let listener = 0;
    const created = new Promise<any>((resolve) => {
      listener = governance.addEventListener("proposalCreated" as any, resolve);
    });
    await sleep(500);
    await governance.methods
      .createProposal({ pause: {} }, new BN(0))
      .accountsPartial({ proposer: owner.publicKey })
      .rpc();
    const proposalPda = PublicKey.findProgramAddressSync(
      [Buffer.from("proposal"), owner.publicKey.toBuffer(), new BN(0).toArrayLike(Buffer, "le", 8)],
      governance.programId,
    )[0];
    const event = await Promise.race([
      created,
      sleep(20_000).then(() => {
        throw new Error("no ProposalCreated event within 20 s");
      }),
    ]);
    await governance.removeEventListener(listener);
    assert.ok(event.proposal.equals(proposalPda));
    assert.ok(event.proposer.equals(owner.publicKey));
    await governance.methods
      .castVote({ yes: {} })
      .accountsPartial({ voter: owner.publicKey, proposal: proposalPda })
      .rpc();

    const accounts = network.account as any;
    const providers = await accounts.provider.all();
    assert.equal(providers.length, 1);
    assert.ok(providers[0].account.nodeKey.equals(nodeKey.publicKey));
    assert.equal(providers[0].account.endpoint, "https://relay.example.net");
    const consumer = await accounts.consumer.fetch(consumerPda);
    assert.ok(consumer.receiptSigner.equals(receiptSigner.publicKey));
    assert.equal(consumer.escrow.toNumber(), 10 * MEDIA);
    const bonded = await accounts.stakeAccount.fetch(stakePda);
    assert.equal(bonded.providerBond.toNumber(), 50 * MEDIA);
    assert.equal(bonded.consumerBond.toNumber(), 50 * MEDIA);
    assert.ok(bonded.voteLock.toNumber() > 0, "a vote locks the stake");
    assert.equal((await accounts.config.all()).length, 1);
    assert.ok((await accounts.epoch.all()).length >= 1);
    assert.equal((await accounts.buyback.all()).length, 1);
    // No lane was opened and no keeper registered here: both read back as none.
    assert.deepEqual(await accounts.lane.all(), []);
    assert.deepEqual(await accounts.keeper.all(), []);

    const gov = governance.account as any;
    const proposal = await gov.proposal.fetch(proposalPda);
    assert.ok(proposal.proposer.equals(owner.publicKey));
    assert.ok(proposal.yes.toNumber() > 0, "the vote is counted");
    assert.equal((await gov.proposer.all()).length, 1);
    assert.equal((await gov.govConfig.all()).length, 1);
  });
});
