"""The token's text: `tt_<prefix>_<secret>`, its parsing, and the hash that is stored."""

import hashlib
import re
import secrets

PREFIX_BYTES = 6  # 12 hex characters: finds the row, says nothing of the secret
SECRET_BYTES = 32
_TOKEN = re.compile(r"tt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def new_token() -> tuple[str, str, str]:
    """A fresh token: (full text to show once, prefix, hash of the secret to store)."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"tt_{prefix}_{secret}", prefix, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(text: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token; None for anything else."""
    found = _TOKEN.fullmatch(text or "")
    return (found.group(1), found.group(2)) if found else None


def matches(secret: str, stored_hash: str) -> bool:
    """Whether `secret` hashes to `stored_hash`, compared in constant time."""
    return secrets.compare_digest(hash_secret(secret), stored_hash)
