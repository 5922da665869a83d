"""The one Fernet helper: keys rotate (newest first), a key derived from SECRET_KEY is per purpose, and a secret
no key opens says which setting to look at."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from notifications import secrets
from tickets.helpdesks import secrets as helpdesk_secrets


def test_a_webhook_secret_stays_readable_while_its_key_is_rotated(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WEBHOOK_SECRETS_KEY = old
    stored = secrets.secret_encrypt("whsec_abc")

    settings.WEBHOOK_SECRETS_KEY = f"{new},{old}"
    assert secrets.secret_decrypt(stored) == "whsec_abc"
    assert Fernet(new.encode()).decrypt(secrets.secret_encrypt("whsec_new").encode()) == b"whsec_new"

    settings.WEBHOOK_SECRETS_KEY = new
    with pytest.raises(secrets.SecretUnreadable, match="WEBHOOK_SECRETS_KEY"):
        secrets.secret_decrypt(stored)


def test_derived_keys_differ_by_purpose(settings):
    settings.WEBHOOK_SECRETS_KEY = ""
    settings.HELPDESK_SECRETS_KEY = ""
    webhook = secrets.secret_encrypt("one")
    helpdesk = helpdesk_secrets.secret_encrypt("two")

    assert helpdesk_secrets.secret_decrypt(helpdesk) == "two"
    with pytest.raises(secrets.SecretUnreadable, match="HELPDESK_SECRETS_KEY"):
        helpdesk_secrets.secret_decrypt(webhook)
