"""solana.py (with solders) against `media localnet`, unchanged: it parses every answer into
solders' types, so a shape that differs from a validator's fails here. Starts the localnet
itself (the `media` binary under CARGO_TARGET_DIR, or MEDIA_BIN) and stops it after.

Run: python tests/py/run.py (scripts/test does, in a venv made from the exact pins of
tests/py/requirements.txt)."""
import asyncio
import json
import os
import signal
import subprocess
import unittest
from pathlib import Path

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.models import TokenAccountOpts, TxOpts
from solana.rpc.websocket_api import SolanaWsClient
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import Transaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_associated_token_account,
    get_associated_token_address,
    initialize_mint2,
    mint_to,
)
from spl.token.models import InitializeMint2Params, MintToParams

MINT_LEN = 82

ROOT = Path(__file__).resolve().parents[2]


def media_binary() -> str:
    if os.environ.get("MEDIA_BIN"):
        return os.environ["MEDIA_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "debug" / "media")


class SolanaPyAgainstTheLocalnet(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.localnet = subprocess.Popen(
            [media_binary(), "--output", "json", "localnet", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = await asyncio.wait_for(
            asyncio.to_thread(self.localnet.stdout.readline), timeout=120
        )
        ready = json.loads(line)
        self.ws_url = ready["websocket_url"]
        self.client = AsyncClient(ready["rpc_url"], commitment=Confirmed, timeout=30)

    async def asyncTearDown(self):
        await self.client.close()
        self.localnet.send_signal(signal.SIGTERM)
        self.localnet.wait(timeout=30)
        self.localnet.stdout.close()

    async def funded(self, lamports: int) -> Keypair:
        owner = Keypair()
        airdrop = await self.client.request_airdrop(owner.pubkey(), lamports)
        await self.client.confirm_transaction(airdrop.value)
        return owner

    async def test_transfers_history_tokens_and_subscriptions(self):
        client = self.client
        self.assertTrue((await client.is_connected()))
        self.assertEqual((await client.get_version()).value.solana_core, "3.1.12")
        alice = await self.funded(2_000_000_000)
        self.assertEqual((await client.get_balance(alice.pubkey())).value, 2_000_000_000)

        # A transfer, watched over the WebSocket (account and signature subscriptions).
        bob = Keypair().pubkey()
        async with SolanaWsClient(self.ws_url) as websocket:
            watched = await websocket.account_subscribe(pubkey=bob)
            blockhash = (await client.get_latest_blockhash()).value
            message = Message.new_with_blockhash(
                [transfer(TransferParams(from_pubkey=alice.pubkey(), to_pubkey=bob, lamports=1_000_000))],
                alice.pubkey(),
                blockhash.blockhash,
            )
            tx = Transaction([alice], message, blockhash.blockhash)
            sent = await client.send_transaction(tx, opts=TxOpts(preflight_commitment=Confirmed))
            status = await websocket.signature_subscribe(signature=sent.value)
            heard = {}
            while len(heard) < 2:
                notification = await asyncio.wait_for(websocket.recv(), timeout=20)
                heard[notification.subscription] = notification
            self.assertEqual(heard[watched.subscription_id].result.value.lamports, 1_000_000)
            self.assertIsNone(heard[status.subscription_id].result.value.err)
            await websocket.unsubscribe(watched)
        await client.confirm_transaction(sent.value)

        # The landed transaction in every encoding, parsed by solders.
        for encoding in ["json", "jsonParsed", "base64", "base58"]:
            landed = await client.get_transaction(sent.value, encoding=encoding, max_supported_transaction_version=0)
            meta = landed.value.transaction.meta
            self.assertIsNone(meta.err)
            self.assertEqual(meta.fee, 5_000)
            self.assertEqual(meta.post_balances[1], 1_000_000)
        statuses = await client.get_signature_statuses([sent.value])
        self.assertIsNone(statuses.value[0].err)
        history = await client.get_signatures_for_address(alice.pubkey())
        self.assertEqual(history.value[0].signature, sent.value)
        block = await client.get_block(landed.value.slot, max_supported_transaction_version=0)
        self.assertIn(sent.value, [tx.transaction.signatures[0] for tx in block.value.transactions])
        self.assertIsNotNone((await client.get_block_time(landed.value.slot)).value)
        blocks = (await client.get_blocks(0, landed.value.slot)).value
        self.assertEqual(blocks[-1], landed.value.slot)

        # SPL Token with solana.py's own instruction builders; parsed back.
        mint = Keypair()
        holding = get_associated_token_address(alice.pubkey(), mint.pubkey())
        rent = (await client.get_minimum_balance_for_rent_exemption(MINT_LEN)).value
        instructions = [
            create_account(CreateAccountParams(from_pubkey=alice.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=MINT_LEN, owner=TOKEN_PROGRAM_ID)),
            initialize_mint2(InitializeMint2Params(decimals=6, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=alice.pubkey())),
            create_associated_token_account(alice.pubkey(), alice.pubkey(), mint.pubkey()),
            mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=holding, mint_authority=alice.pubkey(), amount=2_500_000)),
        ]
        latest = (await client.get_latest_blockhash()).value.blockhash
        minted = Transaction([alice, mint], Message.new_with_blockhash(instructions, alice.pubkey(), latest), latest)
        minted = await client.send_transaction(minted)
        await client.confirm_transaction(minted.value)
        token = mint
        supply = await client.get_token_supply(token.pubkey())
        self.assertEqual(supply.value.amount, "2500000")
        self.assertEqual((await client.get_token_account_balance(holding)).value.ui_amount_string, "2.5")
        largest = await client.get_token_largest_accounts(token.pubkey())
        self.assertEqual(largest.value[0].address, holding)
        parsed = await client.get_token_accounts_by_owner_json_parsed(alice.pubkey(), TokenAccountOpts(mint=token.pubkey()))
        self.assertEqual(parsed.value[0].pubkey, holding)
        self.assertEqual(parsed.value[0].account.data.parsed["info"]["tokenAmount"]["amount"], "2500000")
        info = await client.get_account_info_json_parsed(holding)
        self.assertEqual(info.value.data.program, "spl-token")
        accounts = await client.get_multiple_accounts([holding, bob])
        self.assertEqual(accounts.value[1].lamports, 1_000_000)
        owned = await client.get_program_accounts(TOKEN_PROGRAM_ID)
        self.assertIn(holding, [keyed.pubkey for keyed in owned.value])

        # Cluster facts, each parsed into solders' types.
        epoch = await client.get_epoch_info()
        schedule = await client.get_epoch_schedule()
        self.assertLessEqual(epoch.value.slot_index, schedule.value.slots_per_epoch)
        genesis = (await client.get_genesis_hash()).value
        self.assertEqual(len(bytes(genesis)), 32)
        self.assertNotEqual(bytes(genesis), bytes(32))
        identity = (await client.get_identity()).value.identity
        self.assertEqual((await client.get_cluster_nodes()).value[0].pubkey, identity)
        self.assertEqual((await client.get_slot_leader()).value, identity)
        self.assertEqual((await client.get_vote_accounts()).value.current, [])
        self.assertGreater((await client.get_supply()).value.total, 0)
        self.assertIn(identity, (await client.get_leader_schedule()).value)
        rate = (await client.get_inflation_rate()).value
        self.assertGreaterEqual(rate.epoch, epoch.value.epoch)
        self.assertGreater(rate.total, 0)
        self.assertGreater((await client.get_inflation_governor()).value.initial, 0)
        first = (await client.get_first_available_block()).value
        self.assertEqual((await client.get_minimum_ledger_slot()).value, first)
        self.assertEqual((await client.get_recent_prioritization_fees()).value, [])
        self.assertGreater((await client.get_block_height()).value, 0)
        fee = await client.get_fee_for_message(message)
        self.assertEqual(fee.value, 5_000)
        self.assertGreater((await client.get_minimum_balance_for_rent_exemption(0)).value, 0)
        self.assertGreater((await client.get_largest_accounts()).value[0].lamports, 0)


if __name__ == "__main__":
    unittest.main()
