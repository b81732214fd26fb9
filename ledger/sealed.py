"""Secrets kept at rest sealed with a server key: AES-256-GCM (the ``cryptography`` library).

A second factor's secret must be readable by the server (it computes the codes) but is as good as
a password to anyone who reads the table: a database dump, a backup, a replica. So it is stored
sealed, ``v1:`` and base64 of a 12-byte nonce and the ciphertext with its tag, under a 256-bit key
kept apart from the data it seals: ``TTLEDGER_SEAL_KEY`` (64 hex digits) when set, else a random
key made once in ``server_secrets``. The associated data binds a sealed value to its purpose and
owner (``totp:<user id>``), so it cannot be moved to another user's row. A value without the
``v1:`` prefix is read as written before sealing (none are: sealing came with the column).
"""

from __future__ import annotations

import base64
import os
import secrets
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"
SECRET_NAME = "seal_key"


def seal(key: bytes, plaintext: str, context: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes, stored: str, context: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    raw = base64.b64decode(stored[len(PREFIX):])
    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode("utf-8")).decode("utf-8")


async def seal_key(db: Any) -> bytes:
    """``TTLEDGER_SEAL_KEY`` when set, else the database's own random key, made on first use."""
    configured = os.environ.get("TTLEDGER_SEAL_KEY")
    if configured:
        key = bytes.fromhex(configured)
        if len(key) != 32:
            raise ValueError("TTLEDGER_SEAL_KEY must be 64 hexadecimal digits (256 bits)")
        return key
    await db.execute("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                     SECRET_NAME, secrets.token_bytes(32))
    return bytes(await db.fetchval("SELECT value FROM server_secrets WHERE name = $1", SECRET_NAME))
