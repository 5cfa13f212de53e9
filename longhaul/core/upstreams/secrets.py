"""Secrets at rest: upstream API keys and custom auth headers, encrypted with a MultiFernet.

``LONGHAUL_SECRET_KEYS`` lists Fernet keys; the first encrypts, every one decrypts. Rotation:
put a new key first, run ``longhaul upstreams rotate-keys`` (re-encrypts every stored secret
under it), then drop the old key."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from longhaul.core.errors import InvalidInput


class SecretsUnavailable(InvalidInput):
    code = "secret_keys_missing"


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None
        except ValueError as exc:
            raise SecretsUnavailable(
                "LONGHAUL_SECRET_KEYS holds a key that is not a Fernet key "
                "(32 url-safe base64-encoded bytes; make one with `longhaul upstreams new-key`)."
            ) from exc

    def _need(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsUnavailable(
                "Storing or reading an upstream secret needs LONGHAUL_SECRET_KEYS "
                "(make one with `longhaul upstreams new-key`)."
            )
        return self._fernet

    def encrypt(self, plain: str) -> str:
        return self._need().encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._need().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretsUnavailable(
                "An upstream secret was encrypted with a key no longer in LONGHAUL_SECRET_KEYS."
            ) from exc

    def rotate(self, token: str) -> str:
        """The same secret, encrypted under the first key."""
        try:
            return self._need().rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretsUnavailable(
                "An upstream secret was encrypted with a key no longer in LONGHAUL_SECRET_KEYS."
            ) from exc


def new_key() -> str:
    return Fernet.generate_key().decode()
