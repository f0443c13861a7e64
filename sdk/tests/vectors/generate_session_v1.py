#!/usr/bin/env python3
"""Writes session_v1.json: session token and viewer receipt vectors made without any of this
repository's Rust code (Python's `cryptography` for ed25519, the byte layout from PROTOCOL.md
section 5). The Rust codec in sdk/src/session.rs must reproduce every byte."""
import json
import struct
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def key(seed_byte: int):
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return private, public


def token_vector(name, signer_seed, session_seed, config, consumer, expires_at, max_bytes):
    signer, signer_pub = key(signer_seed)
    _, session_pub = key(session_seed)
    message = (
        b"MEDIASN1" + config + consumer + session_pub
        + struct.pack("<q", expires_at) + struct.pack("<Q", max_bytes)
    )
    assert len(message) == 120
    signature = signer.sign(message)
    return {
        "name": name,
        "receipt_signer_seed": (bytes([signer_seed]) * 32).hex(),
        "receipt_signer": b58(signer_pub),
        "config": b58(config),
        "consumer": b58(consumer),
        "session_key": b58(session_pub),
        "expires_at": expires_at,
        "max_bytes": max_bytes,
        "message": message.hex(),
        "token": (message + signature).hex(),
    }


def receipt_vector(name, session_seed, config, consumer, node_key, epoch, cumulative):
    session, session_pub = key(session_seed)
    message = (
        b"MEDIAVR1" + config + consumer + node_key + session_pub
        + struct.pack("<Q", epoch) + struct.pack("<Q", cumulative)
    )
    assert len(message) == 152
    signature = session.sign(message)
    return {
        "name": name,
        "session_seed": (bytes([session_seed]) * 32).hex(),
        "config": b58(config),
        "consumer": b58(consumer),
        "node_key": b58(node_key),
        "session_key": b58(session_pub),
        "epoch": epoch,
        "cumulative": cumulative,
        "message": message.hex(),
        "receipt": (message + signature).hex(),
    }


config = bytes(range(1, 33))
consumer = bytes(range(101, 133))
node = key(9)[1]
vectors = {
    "format": "Media Network session token (MEDIASN1, 120-byte message + ed25519 by the consumer's "
    "receipt signer) and viewer receipt (MEDIAVR1, 152-byte message + ed25519 by the session key); "
    "produced by generate_session_v1.py with Python's cryptography package",
    "tokens": [
        token_vector("basic", 1, 2, config, consumer, 1_800_000_000, 50 * 2**20),
        token_vector("extremes", 3, 4, bytes(32), bytes([255]) * 32, -1, 2**64 - 1),
    ],
    "viewer_receipts": [
        receipt_vector("basic", 2, config, consumer, node, 7, 123_456_789),
        receipt_vector("extremes", 4, bytes(32), bytes([255]) * 32, node, 2**64 - 1, 2**64 - 1),
    ],
}
out = Path(__file__).with_name("session_v1.json")
out.write_text(json.dumps(vectors, indent=2) + "\n")
print(f"wrote {out}")
