"""Secrets kept encrypted at rest (Fernet), for every app: the webhook endpoints' signing secrets here, the
helpdesk connections' secrets and API tokens in tickets/helpdesks/secrets.py.

Each kind of secret has its own key setting (WEBHOOK_SECRETS_KEY, HELPDESK_SECRETS_KEY): one Fernet key, or
several comma-separated with the newest first, so a key can be rotated (new secrets use the first, old ones still
decrypt). Unset — the embedded default — a key is derived from SECRET_KEY and the kind's purpose, so changing
SECRET_KEY then makes stored secrets unreadable (docs/configuration.md).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

SECRET_PREFIX = "whsec_"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured key(s)."""


def keyring(configured: str | bytes | None, purpose: str) -> MultiFernet:
    """The Fernet keys of one kind of secret: `configured` (comma-separated, newest first) or, unset, one derived
    from SECRET_KEY for `purpose`."""
    if isinstance(configured, bytes):
        configured = configured.decode()
    keys = [key.strip() for key in (configured or "").split(",") if key.strip()]
    if not keys:
        digest = hashlib.sha256(f"cxrecovery-{purpose}:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(ring: MultiFernet, secret: str) -> str:
    return ring.encrypt(secret.encode()).decode()


def decrypt(ring: MultiFernet, token: str, *, unreadable: str) -> str:
    """The secret, or SecretUnreadable(`unreadable`) when no configured key opens it."""
    try:
        return ring.decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(unreadable) from exc


# --- webhook endpoints --------------------------------------------------------------------------------


def _webhook_keys() -> MultiFernet:
    return keyring(settings.WEBHOOK_SECRETS_KEY, "webhook-secrets")


def secret_generate() -> str:
    """24 random bytes, base64, with the whsec_ prefix: what the standardwebhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_encrypt(secret: str) -> str:
    return encrypt(_webhook_keys(), secret)


def secret_decrypt(token: str) -> str:
    return decrypt(
        _webhook_keys(),
        token,
        unreadable="A webhook secret cannot be decrypted: WEBHOOK_SECRETS_KEY (or SECRET_KEY) changed since it was "
        "stored. Rotate the endpoint's secret.",
    )
