"""The service's Ed25519 key, which signs published results.

``SIGNING_KEY`` holds the private key as PEM (PKCS#8). Without it, outside
production, a key is made once and kept in ``var/signing_key.pem`` so that the
demo's signatures stay verifiable across restarts. The public key is published at
``/api/v1/signing-key/`` and ``/.well-known/encore-signing-key.pem``.
"""

import base64
import json
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=1)
def private_key() -> Ed25519PrivateKey:
    pem = settings.SIGNING_KEY
    if pem:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("SIGNING_KEY must be an Ed25519 private key (PEM).")
        return key
    if settings.PRODUCTION:
        raise ImproperlyConfigured("SIGNING_KEY is required in production.")
    path = settings.VAR_DIR / "signing_key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generated = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(generated)
        path.chmod(0o600)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem() -> str:
    return (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signed_bytes(results: dict) -> bytes:
    """What is signed: the results without their signature, as canonical JSON."""
    unsigned = {key: value for key, value in results.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_results(results: dict) -> str:
    return base64.b64encode(private_key().sign(signed_bytes(results))).decode()
