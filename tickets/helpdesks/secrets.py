"""Connection secrets: encrypted where we must sign with them, hashed where we only compare.

Encrypted with the project's one Fernet helper (notifications/secrets.py) under HELPDESK_SECRETS_KEY (one key, or
several comma-separated with the newest first, so a key can be rotated). Without it — the embedded default — a
key is derived from SECRET_KEY, so changing SECRET_KEY then makes stored secrets unreadable
(docs/configuration.md). A secret no key opens raises SecretUnreadable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random

from cryptography.fernet import MultiFernet
from django.conf import settings

from notifications.secrets import SecretUnreadable, decrypt, encrypt, keyring

__all__ = ["SecretUnreadable", "secret_decrypt", "secret_encrypt", "secret_generate", "secret_hash", "secret_matches"]


def secret_generate() -> str:
    # 32 characters: Help Scout accepts secrets of at most 40.
    return random.token_urlsafe(24)


def _keys() -> MultiFernet:
    return keyring(getattr(settings, "HELPDESK_SECRETS_KEY", ""), "helpdesk-secrets")


def secret_encrypt(secret: str) -> str:
    return encrypt(_keys(), secret)


def secret_decrypt(token: str) -> str:
    return decrypt(_keys(), token, unreadable="The connection's secret cannot be read with HELPDESK_SECRETS_KEY.")


def secret_hash(secret: str) -> str:
    """Salted SHA-256. The secret is a random token, so a slow password hash would only slow every delivery."""
    salt = random.token_hex(8)
    return f"sha256${salt}${hashlib.sha256((salt + secret).encode()).hexdigest()}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        algorithm, salt, digest = stored.split("$", 2)
    except ValueError:
        return False
    if algorithm != "sha256":
        return False
    return hmac.compare_digest(hashlib.sha256((salt + secret).encode()).hexdigest(), digest)
