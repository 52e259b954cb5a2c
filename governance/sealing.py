"""Sealed secret ballots: each choice encrypted to its proposal's Paillier key on the way
in, added up while still encrypted, and only the sums decrypted, at the close.

Paillier encryption (the ``phe`` library, with GMP) is additively homomorphic: the product
of ciphertexts is a ciphertext of the sum. A ballot is a vector of counters (per choice
key: the ballot's weight in thousandths and a 1; and the weight if it voted), packed into
64-bit slots of one plaintext (more than one ciphertext only when a ballot has more than
31 counters). Multiplying every ballot's ciphertexts gives a ciphertext of the totals;
no single ballot is ever decrypted.

The proposal's public key is stored with it; the private key (its primes) is stored only
encrypted with Fernet under ``BALLOT_SEALING_KEY`` (else a key derived from
``SECRET_KEY``), which the database never holds, and is erased at the close once the sums
are opened. The opening is published with its proof: Paillier lets the holder of the
private key recover the randomness ``r`` of a ciphertext, and anyone can check
``c == (1 + n) ** m * r ** n  (mod n ** 2)`` with the public key alone.

No Django models here: the migrations call these functions too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction

import phe
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import tally
from .conf import conf

SLOT_BITS = 64
# Weights have three decimals (Eligibility.weight); counters are whole thousandths.
WEIGHT_SCALE = 1000
CAST = "_cast"
RECORD_VERSION = 1


class SealingError(Exception):
    """A sealed ballot box that cannot be opened or does not check out."""


# --- the key outside the database -------------------------------------------------------


def _fernet() -> Fernet:
    material = conf().sealing_material.encode()
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"concord.ballot-sealing"
    ).derive(material)
    return Fernet(base64.urlsafe_b64encode(derived))


@dataclass(frozen=True)
class KeyPair:
    public: str  # n, hexadecimal
    sealed_private: str  # a Fernet token of the primes


def new_key(bits: int | None = None) -> KeyPair:
    """A fresh Paillier key for one proposal, its private part sealed outside-key."""
    bits = bits or conf().key_bits
    public, private = phe.generate_paillier_keypair(n_length=bits)
    primes = json.dumps({"p": format(private.p, "x"), "q": format(private.q, "x")})
    return KeyPair(format(public.n, "x"), _fernet().encrypt(primes.encode()).decode())


def _public(n_hex: str) -> phe.PaillierPublicKey:
    return phe.PaillierPublicKey(int(n_hex, 16))


def _private(n_hex: str, sealed_private: str) -> phe.PaillierPrivateKey:
    if not sealed_private:
        raise SealingError("the private key of this ballot box is gone (opened already?)")
    try:
        primes = json.loads(_fernet().decrypt(sealed_private.encode()))
    except InvalidToken as exc:
        raise SealingError(
            "the private key cannot be unsealed: BALLOT_SEALING_KEY (or SECRET_KEY) is not "
            "the one it was sealed with"
        ) from exc
    return phe.PaillierPrivateKey(_public(n_hex), int(primes["p"], 16), int(primes["q"], 16))


# --- what a ballot encrypts -------------------------------------------------------------


def counters(rule: tally.Rule) -> tuple[str, ...]:
    """The names of a ballot's counters, in slot order."""
    keys = tally.choice_keys(rule)
    return tuple(f"w:{k}" for k in keys) + tuple(f"n:{k}" for k in keys) + (CAST,)


def _slots(n: int) -> int:
    return (n.bit_length() - 1) // SLOT_BITS


def _milli(weight) -> int:
    scaled = tally.as_fraction(weight) * WEIGHT_SCALE
    if scaled.denominator != 1 or scaled < 0:
        raise SealingError(f"a weight must be a whole number of thousandths: {weight}")
    return int(scaled)


def encode(rule: tally.Rule, weight, choice) -> list[int]:
    """A ballot as its counters (the choice validated on the way)."""
    one = tally.summarise(rule, [tally.Ballot(tally.as_fraction(weight), choice)])
    values = {f"w:{k}": _milli(v) for k, v in one.totals.items()}
    values.update({f"n:{k}": v for k, v in one.counts.items()})
    values[CAST] = _milli(one.cast)
    return [values[name] for name in counters(rule)]


def _pack(values: list[int], per: int) -> list[int]:
    return [
        sum(v << (SLOT_BITS * i) for i, v in enumerate(values[start : start + per]))
        for start in range(0, len(values), per)
    ]


def _unpack(plaintexts: list[int], per: int, length: int) -> list[int]:
    mask = (1 << SLOT_BITS) - 1
    values = [(m >> (SLOT_BITS * i)) & mask for m in plaintexts for i in range(per)]
    return values[:length]


def seal(public: str, rule: tally.Rule, weight, choice) -> list[str]:
    """The ballot's ciphertexts (hexadecimal), freshly randomised."""
    key = _public(public)
    packed = _pack(encode(rule, weight, choice), _slots(key.n))
    return [format(key.raw_encrypt(m), "x") for m in packed]


def tracker(sealed: list[str]) -> str:
    """A short name for one sealed ballot, shown on its receipt and in the ballot list."""
    return hashlib.sha256(":".join(sealed).encode()).hexdigest()[:20]


def aggregate(public: str, boxes: list[list[str]], chunks: int) -> list[int]:
    """The product of the ballots' ciphertexts, chunk by chunk: a ciphertext of the sums.
    With no ballot, 1: the encryption of 0 with randomness 1."""
    key = _public(public)
    sums = [phe.EncryptedNumber(key, 1) for _ in range(chunks)]
    for sealed in boxes:
        if len(sealed) != chunks:
            raise SealingError("a sealed ballot has the wrong number of ciphertexts")
        sums = [s + phe.EncryptedNumber(key, int(c, 16)) for s, c in zip(sums, sealed, strict=True)]
    return [s.ciphertext(be_secure=False) for s in sums]


def chunks_for(public: str, rule: tally.Rule) -> int:
    per = _slots(_public(public).n)
    return -(-len(counters(rule)) // per)


# --- opening the sums, with a proof anyone can check --------------------------------------


def open_sums(public: str, sealed_private: str, rule: tally.Rule, boxes: list[list[str]]) -> dict:
    """Decrypt the sums of ``boxes`` (never a single ballot) and return the record that
    proves them: the aggregate, the plaintext and its randomness, per ciphertext."""
    private = _private(public, sealed_private)
    key = private.public_key
    totals = aggregate(public, boxes, chunks_for(public, rule))
    plaintexts = [private.raw_decrypt(c) for c in totals]
    # Paillier's randomness recovery: c * (1 + n)^-m = r^n (mod n^2), and r = (r^n)^(n^-1
    # mod phi(n)) mod n; with the randomness the decryption is checkable without the key.
    phi = (private.p - 1) * (private.q - 1)
    inverse = pow(key.n, -1, phi)
    randomness = []
    for c, m in zip(totals, plaintexts, strict=True):
        rn = c * pow(key.g, -m, key.nsquare) % key.nsquare
        randomness.append(pow(rn % key.n, inverse, key.n))
    record = {
        "version": RECORD_VERSION,
        "scheme": "paillier",
        "n": public,
        "slot_bits": SLOT_BITS,
        "weight_scale": WEIGHT_SCALE,
        "counters": list(counters(rule)),
        "ballots": len(boxes),
        "aggregate": [format(c, "x") for c in totals],
        "plaintext": [format(m, "x") for m in plaintexts],
        "randomness": [format(r, "x") for r in randomness],
    }
    check_record(record, boxes)
    return record


def check_record(record: dict, boxes: list[list[str]]) -> None:
    """Raise :class:`SealingError` unless ``record`` is the opening of ``boxes``: their
    product is the published aggregate and each plaintext and randomness re-encrypt to it."""
    n = int(record["n"], 16)
    nsquare = n * n
    recomputed = aggregate(record["n"], boxes, len(record["aggregate"]))
    if [format(c, "x") for c in recomputed] != record["aggregate"]:
        raise SealingError("the stored ballots do not multiply to the published aggregate")
    if len(boxes) != record["ballots"]:
        raise SealingError("the number of stored ballots differs from the record")
    for c, m, r in zip(record["aggregate"], record["plaintext"], record["randomness"], strict=True):
        c, m, r = int(c, 16), int(m, 16), int(r, 16)
        if not (0 <= m < n and 0 < r < n) or (1 + n * m) * pow(r, n, nsquare) % nsquare != c:
            raise SealingError("a published sum does not re-encrypt to the aggregate")


def sums_of(record: dict, rule: tally.Rule) -> tally.Sums:
    """The count's sums from a checked record."""
    if record["counters"] != list(counters(rule)):
        raise SealingError("the record's counters do not match the proposal's rule")
    per = _slots(int(record["n"], 16))
    values = dict(
        zip(
            record["counters"],
            _unpack([int(m, 16) for m in record["plaintext"]], per, len(record["counters"])),
            strict=True,
        )
    )
    keys = tally.choice_keys(rule)
    return tally.Sums(
        totals={k: Fraction(values[f"w:{k}"], WEIGHT_SCALE) for k in keys},
        counts={k: values[f"n:{k}"] for k in keys},
        cast=Fraction(values[CAST], WEIGHT_SCALE),
    )
