"""Per-device tokens: shown once when a device is registered, stored only as a SHA-256 hash."""

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """(token to hand to the device, hash to store)."""
    token = secrets.token_urlsafe(24)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
