"""Connection secrets: encrypted where we must sign with them, hashed where we only compare.

The Fernet key comes from HELPDESK_SECRETS_KEY (one key, or several comma-separated with the newest first, so a
key can be rotated). Without it — the embedded default — a key is derived from SECRET_KEY, so changing
SECRET_KEY then makes stored secrets unreadable (docs/configuration.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnavailable(Exception):
    """The stored secret cannot be decrypted with the configured key."""


def secret_generate() -> str:
    # 32 characters: Help Scout accepts secrets of at most 40.
    return random.token_urlsafe(24)


def _fernet() -> MultiFernet:
    configured = [k.strip() for k in (getattr(settings, "HELPDESK_SECRETS_KEY", "") or "").split(",") if k.strip()]
    if not configured:
        digest = hashlib.sha256(b"cxrecovery-helpdesk-secrets:" + settings.SECRET_KEY.encode()).digest()
        configured = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in configured])


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnavailable("The connection's secret cannot be read with HELPDESK_SECRETS_KEY.") from exc


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
