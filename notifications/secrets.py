"""Webhook secrets: generated in the Standard Webhooks format and kept encrypted at rest with Fernet.

The key comes from WEBHOOK_SECRETS_KEY (a Fernet key) or, in the embedded default, is derived from SECRET_KEY,
so changing SECRET_KEY without setting WEBHOOK_SECRETS_KEY makes stored secrets unreadable (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

SECRET_PREFIX = "whsec_"


def _fernet() -> Fernet:
    key = settings.WEBHOOK_SECRETS_KEY
    if not key:
        digest = hashlib.sha256(f"cxrecovery-webhook-secrets:{settings.SECRET_KEY}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def secret_generate() -> str:
    """24 random bytes, base64, with the whsec_ prefix: what the standardwebhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError(
            "A webhook secret cannot be decrypted: WEBHOOK_SECRETS_KEY (or SECRET_KEY) changed since it was stored. "
            "Rotate the endpoint's secret."
        ) from exc
