"""Keyed hashes, signatures and random tokens: recognising people without storing who they are.

Hashes are keyed by `HASH_KEY`, which is never rotated, so opt-outs and limits outlive a new
`SECRET_KEY`. Signatures use `SECRET_KEY` and still accept its `SECRET_KEY_FALLBACKS`.
"""

import hashlib
import hmac
import secrets

from flask import current_app
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer


def keyed_hash(value: str, purpose: str = "address") -> str:
    """HMAC-SHA256 of a normalised value, keyed by `HASH_KEY` and the purpose."""
    key = current_app.config["HASH_KEY"].encode()
    message = f"{purpose}:{value.strip().lower()}".encode()
    return hmac.digest(key, message, "sha256").hex()


def mailbox(address: str) -> str:
    """The mailbox an address reaches, for comparing: case-folded, without a `+tag`."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}".casefold()


def address_hash(address: str) -> str:
    """The keyed hash of an address's mailbox: one for every spelling of the same mailbox."""
    return keyed_hash(mailbox(address))


def serializer(salt: str, timed: bool = False) -> URLSafeSerializer:
    """A serializer that signs with `SECRET_KEY` and also accepts its fallbacks."""
    config = current_app.config
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]
    kind = URLSafeTimedSerializer if timed else URLSafeSerializer
    return kind(keys, salt=salt)


def new_token() -> tuple[str, str]:
    """A URL-safe token of 256 random bits and the SHA-256 hash that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The stored form of a token: a plain SHA-256, enough for 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def mask_address(address: str) -> str:
    """Show an address in logs as `j***@example.nl`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
