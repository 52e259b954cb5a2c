"""Certificates as Open Badges 3.0 credentials, signed with Ed25519.

The credential is a W3C Verifiable Credential (data model 2.0) of type
``OpenBadgeCredential`` whose subject is the person, identified by a salted hash of
their email address — not by their library — so it stays theirs when they move between
member libraries. It is secured with a ``DataIntegrityProof`` using the
``eddsa-rdfc-2022`` cryptosuite, the one Open Badges 3.0 names for embedded proofs: the
credential and the proof options are each turned into RDF and put in canonical form
(RDF Dataset Canonicalization, RDFC-1.0, which pyld implements as URDNA2015), hashed with
SHA-256, and the two hashes concatenated are signed. The JSON-LD contexts are the copies
bundled in ``openbadges/contexts``: signing and verifying never fetch anything, and a
property that no context defines stops the signature instead of being left out of it.
The issuer is a ``did:key`` derived from the public key, so any verifier can check the
signature without contacting the portal.

Credentials downloaded before the switch carry an ``eddsa-jcs-2022`` proof (JSON
canonical form, RFC 8785); :func:`verify` still accepts those, and the public
verification page checks both kinds.

The signing key, in order of preference:

1. ``TRAINING_BADGE_SIGNING_KEY`` (``conf.py``): a PEM-encoded PKCS#8 Ed25519 private key
   (set it from the environment in production so every web and worker process signs
   with the same key);
2. the file ``TRAINING_BADGE_KEY_FILE`` (default ``var/keys/training-badges-
   ed25519.pem``), generated with mode 0600 on first use when it does not exist.

Rotating the key invalidates the proofs of credentials already handed out (their
certificates can still be checked at the public verification URL).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.urls import reverse
from pyld import jsonld

from .conf import conf

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXTS = [VC_CONTEXT, OB_CONTEXT]
CRYPTOSUITE = "eddsa-rdfc-2022"
# Proofs made before eddsa-rdfc-2022; still verified, never made.
LEGACY_CRYPTOSUITE = "eddsa-jcs-2022"
OPENBADGES_DIR = Path(__file__).resolve().parent / "openbadges"
# The contexts a credential may name, as bundled copies: nothing is fetched.
BUNDLED_CONTEXTS = {
    VC_CONTEXT: OPENBADGES_DIR / "contexts" / "credentials-v2.jsonld",
    OB_CONTEXT: OPENBADGES_DIR / "contexts" / "ob-context-3.0.3.json",
}
SCHEMA_FILE = OPENBADGES_DIR / "ob_v3p0_achievementcredential_schema.json"
# Multicodec prefix of an Ed25519 public key, as did:key expects.
ED25519_MULTICODEC = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def canonical(document) -> bytes:
    """JSON canonical form (RFC 8785) for documents of strings, ints, bools and nulls."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_file() -> Path:
    return conf().badge_key_file


@lru_cache(maxsize=4)
def _load_key(pem: str | None, path: str) -> Ed25519PrivateKey:
    if pem:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    else:
        file = Path(path)
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            generated = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # O_EXCL: two processes starting together keep the first one's key.
            try:
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(generated)
        key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("The training badge signing key must be an Ed25519 key.")
    return key


def signing_key() -> Ed25519PrivateKey:
    return _load_key(conf().badge_signing_key or None, str(key_file()))


def did_key(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "did:key:z" + b58encode(ED25519_MULTICODEC + raw)


def public_key_of(did: str) -> Ed25519PublicKey:
    if not did.startswith("did:key:z"):
        raise ValueError("not an Ed25519 did:key")
    decoded = b58decode(did.removeprefix("did:key:z"))
    if not decoded.startswith(ED25519_MULTICODEC) or len(decoded) != 34:
        raise ValueError("not an Ed25519 did:key")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def issuer_did() -> str:
    return did_key(signing_key().public_key())


class UnknownContext(ValueError):
    """A credential names a JSON-LD context that is not bundled with the portal."""


class UndefinedTerm(ValueError):
    """A property that no context defines: it would be left out of the signed data."""


@lru_cache(maxsize=len(BUNDLED_CONTEXTS))
def _context(url: str) -> dict:
    return json.loads(BUNDLED_CONTEXTS[url].read_text())


def document_loader(url: str, options=None) -> dict:
    """pyld document loader that serves the bundled contexts and refuses everything else."""
    if url not in BUNDLED_CONTEXTS:
        raise UnknownContext(f"JSON-LD context {url!r} is not bundled; it is not fetched.")
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}


def _refuse_dropped(term) -> None:
    raise UndefinedTerm(f"no JSON-LD context defines {term!r}")


def rdfc(document: dict) -> bytes:
    """``document`` as canonical N-Quads (RDFC-1.0), with the bundled contexts only."""
    processor = jsonld.JsonLdProcessor(on_property_dropped=_refuse_dropped)
    try:
        nquads = processor.normalize(
            document,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": document_loader,
            },
        )
    except jsonld.JsonLdError as exc:
        # pyld wraps our refusals; hand the original reason on.
        cause = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, (UnknownContext, UndefinedTerm)):
            raise type(cause)(str(cause)) from exc
        raise ValueError(f"not a JSON-LD document this portal can read: {exc}") from exc
    return nquads.encode()


def _hash_data(document: dict, proof_options: dict, cryptosuite: str = CRYPTOSUITE) -> bytes:
    transform = rdfc if cryptosuite == CRYPTOSUITE else canonical
    return (
        hashlib.sha256(transform(proof_options)).digest()
        + hashlib.sha256(transform(document)).digest()
    )


def sign(document: dict, created: str) -> dict:
    """``document`` with an eddsa-rdfc-2022 DataIntegrityProof added.

    The proof is in a one-element list: the Open Badges 3.0 JSON schema wants ``proof``
    to be an array (the VC data model takes either).
    """
    key = signing_key()
    did = did_key(key.public_key())
    options = {
        "@context": document["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": f"{did}#{did.removeprefix('did:key:')}",
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(_hash_data(document, options))
    proof = {k: v for k, v in options.items() if k != "@context"}
    proof["proofValue"] = "z" + b58encode(signature)
    return {**document, "proof": [proof]}


def verify(credential: dict, trusted_issuer: str | None = None) -> bool:
    """True when the proof holds and was made by ``trusted_issuer`` (ours by default)."""
    trusted_issuer = trusted_issuer or issuer_did()
    try:
        document = copy.deepcopy(credential)
        proof = document.pop("proof")
        if isinstance(proof, list):
            # A proof set: ours is the only one Concord makes.
            if len(proof) != 1:
                return False
            proof = proof[0]
        method = proof["verificationMethod"]
        did = method.split("#", 1)[0]
        if did != trusted_issuer or document.get("issuer", {}).get("id") != did:
            return False
        cryptosuite = proof.get("cryptosuite")
        if proof.get("type") != "DataIntegrityProof" or not proof["proofValue"].startswith("z"):
            return False
        if cryptosuite not in (CRYPTOSUITE, LEGACY_CRYPTOSUITE):
            return False
        options = {k: v for k, v in proof.items() if k != "proofValue"}
        options["@context"] = document["@context"]
        signature = b58decode(proof["proofValue"][1:])
        public_key_of(did).verify(signature, _hash_data(document, options, cryptosuite))
    except (InvalidSignature, KeyError, TypeError, ValueError, AttributeError):
        return False
    return True


# A badge file is a few kilobytes; refuse to parse anything much larger.
MAX_BADGE_BYTES = 64 * 1024
CERTIFICATE_ID_PREFIX = "urn:concord:certificate:"


@dataclass(frozen=True)
class BadgeCheck:
    """What the verification page says about a badge file."""

    valid: bool
    code: str | None = None
    cryptosuite: str | None = None


def check_badge(raw: bytes | str) -> BadgeCheck:
    """Read a badge file and check its proof (either cryptosuite, ours as issuer).

    ``code`` is the certificate the badge names, and only when the proof holds: a
    forged file cannot make the page vouch for somebody else's certificate.
    """
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw or len(raw) > MAX_BADGE_BYTES:
        return BadgeCheck(valid=False)
    try:
        credential = json.loads(raw)
    except ValueError:
        return BadgeCheck(valid=False)
    if not isinstance(credential, dict) or not verify(credential):
        return BadgeCheck(valid=False)
    proof = credential["proof"]
    proof = proof[0] if isinstance(proof, list) else proof
    identifier = str(credential.get("id", ""))
    code = (
        identifier.removeprefix(CERTIFICATE_ID_PREFIX)
        if identifier.startswith(CERTIFICATE_ID_PREFIX)
        else None
    )
    return BadgeCheck(valid=True, code=code, cryptosuite=proof.get("cryptosuite"))


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def credential(certificate, base_url: str | None = None) -> dict:
    """The signed Open Badges 3.0 credential for ``certificate``."""
    base = (base_url or settings.WAGTAILADMIN_BASE_URL).rstrip("/")
    verify_url = base + reverse("training:verify", args=[certificate.code])
    did = issuer_did()
    # A fresh salt per credential: the email address cannot be read back from the hash.
    salt = secrets.token_hex(8)
    identity = "sha256$" + hashlib.sha256((certificate.user.email + salt).encode()).hexdigest()
    course = certificate.course
    document = {
        "@context": CONTEXTS,
        "id": f"{CERTIFICATE_ID_PREFIX}{certificate.code}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": did,
            "type": ["Profile"],
            "name": settings.WAGTAIL_SITE_NAME,
            "url": base + "/",
        },
        "validFrom": _iso(certificate.issued_at.astimezone(UTC)),
        "name": certificate.course_title,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": certificate.holder_name,
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": identity,
                    "salt": salt,
                }
            ],
            "achievement": {
                "id": f"urn:concord:course:{course.pk}",
                "type": ["Achievement"],
                "achievementType": "Course",
                "name": certificate.course_title,
                "description": course.search_description or certificate.course_title,
                "criteria": {
                    "narrative": "Completed every lesson and passed the course quiz.",
                },
                "humanCode": certificate.code,
            },
        },
        "evidence": [
            {
                "id": verify_url,
                "type": ["Evidence"],
                "name": "Certificate verification",
                "narrative": f"Issued through {certificate.library_name}.",
            }
        ],
    }
    if certificate.expires_at:
        document["validUntil"] = _iso(certificate.expires_at.astimezone(UTC))
    return sign(document, created=_iso(certificate.issued_at.astimezone(UTC)))


def public_key_b64() -> str:
    raw = (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()
