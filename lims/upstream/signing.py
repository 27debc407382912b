"""Signing upstream requests: Ed25519 over the exact body bytes in the manner of HTTP Message Signatures
(RFC 9421: ``Content-Digest`` (RFC 9530), ``Signature-Input``, ``Signature`` with ``created`` and ``keyid``),
and the lab's key file (PEM, PKCS#8, mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNED_COMPONENTS = ("content-digest", "idempotency-key", "x-lab-code")


class KeyExists(FileExistsError):
    """``lims upstream keygen`` never overwrites a key (the hub knows the old one)."""


def load_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def create_key(path: Path) -> Ed25519PrivateKey:
    """A new key at ``path`` (created exclusively: KeyExists when a file is there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        with path.open("xb") as f:
            path.chmod(0o600)
            f.write(pem)
    except FileExistsError:
        raise KeyExists(f"{path} exists; a lab key is never overwritten") from None
    return key


def fingerprint(key: Ed25519PrivateKey) -> str:
    """SHA-256 of the raw public key, first 32 hex digits (the same as lims/db/anchors.py)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, created when there is none (the demo and tests)."""
    if path.exists():
        return load_key(path)
    try:
        return create_key(path)
    except KeyExists:
        return load_key(path)


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_base(headers: dict[str, str], params: str) -> bytes:
    """RFC 9421 §2.5 signature base over the covered header fields."""
    lines = [f'"{name}": {headers[name]}' for name in SIGNED_COMPONENTS]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign_request(key: Ed25519PrivateKey, body: bytes, *, lab_code: str, idempotency_key: str,
                 created: int | None = None) -> dict[str, str]:
    headers = {"content-digest": content_digest(body), "idempotency-key": idempotency_key,
               "x-lab-code": lab_code}
    covered = " ".join(f'"{c}"' for c in SIGNED_COMPONENTS)
    params = f'({covered});created={created or int(time.time())};keyid="{lab_code}";alg="ed25519"'
    sig = key.sign(signature_base(headers, params))
    headers["signature-input"] = f"sig1={params}"
    headers["signature"] = "sig1=:" + base64.b64encode(sig).decode() + ":"
    headers["content-type"] = "application/json"
    return headers


class SignatureInvalid(ValueError):
    pass


def verify_request(public_pem: str, body: bytes, headers: dict[str, str]) -> None:
    """Hub side: check digest and Ed25519 signature; raise SignatureInvalid naming what failed."""
    h = {k.lower(): v for k, v in headers.items()}
    for name in (*SIGNED_COMPONENTS, "signature-input", "signature"):
        if name not in h:
            raise SignatureInvalid(f"missing header {name}")
    if h["content-digest"] != content_digest(body):
        raise SignatureInvalid("content-digest does not match the body")
    sig_input = h["signature-input"]
    if not sig_input.startswith("sig1="):
        raise SignatureInvalid("signature-input: expected label sig1")
    params = sig_input[len("sig1="):]
    sig_field = h["signature"]
    if not (sig_field.startswith("sig1=:") and sig_field.endswith(":")):
        raise SignatureInvalid("signature: malformed")
    try:
        sig = base64.b64decode(sig_field[len("sig1=:"):-1], validate=True)
        key = serialization.load_pem_public_key(public_pem.encode())
    except ValueError as exc:
        raise SignatureInvalid(f"signature or key malformed: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureInvalid("registered key is not Ed25519")
    try:
        key.verify(sig, signature_base(h, params))
    except Exception:  # noqa: BLE001 - cryptography raises InvalidSignature
        raise SignatureInvalid("Ed25519 signature does not verify") from None
