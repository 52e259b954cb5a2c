"""Open Badges 3.0: the eddsa-rdfc-2022 proof, the bundled JSON schema and contexts, a
verifier Concord did not write (Digital Bazaar's, run with node), and badges signed with
eddsa-jcs-2022 before the switch still checking out at the verification URL."""

import copy
import json
from pathlib import Path

import jsonschema_rs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from knowledge_base.training import badges
from knowledge_base.training.models import Certificate
from tests.node_tools import node

from .test_completion import complete

pytestmark = pytest.mark.django_db

# A badge as the code before eddsa-rdfc-2022 signed it (eddsa-jcs-2022), kept as it was
# handed out; signed with the test key below.
LEGACY_BADGE = Path(__file__).resolve().parent / "data" / "legacy_badge.json"


def legacy_key_pem() -> str:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(autouse=True)
def badge_key(settings, tmp_path):
    settings.TRAINING_BADGE_KEY_FILE = tmp_path / "keys" / "badge.pem"
    badges._load_key.cache_clear()
    yield
    badges._load_key.cache_clear()


@pytest.fixture
def certificate(world, course):
    return complete(world["staff_a"], course).completion.certificate


def schema_errors(credential: dict) -> list[str]:
    schema = json.loads(badges.SCHEMA_FILE.read_text())
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    return [error.message for error in validator.iter_errors(credential)]


def legacy_credential(certificate) -> dict:
    """The badge as Concord signed it before eddsa-rdfc-2022 (eddsa-jcs-2022, one proof)."""
    document = copy.deepcopy(badges.credential(certificate))
    created = document.pop("proof")[0]["created"]
    key = badges.signing_key()
    did = badges.issuer_did()
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": created,
        "verificationMethod": f"{did}#{did.removeprefix('did:key:')}",
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    signature = key.sign(
        badges._hash_data(document, options, cryptosuite=badges.LEGACY_CRYPTOSUITE)
    )
    proof = {k: v for k, v in options.items() if k != "@context"}
    proof["proofValue"] = "z" + badges.b58encode(signature)
    return {**document, "proof": proof}


def independent_verdicts(tmp_path, credentials: dict[str, dict]) -> dict[str, dict]:
    """Each credential's verdict from tests/node/verify_badge.js (node, Digital Bazaar)."""
    files = []
    for name, credential in credentials.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(credential))
        files.append(str(path))
    run = node("verify_badge.js", *files)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    return {Path(line["file"]).stem: line for line in lines}


def test_badge_has_an_rdfc_proof_and_matches_the_open_badges_schema(client, world, certificate):
    client.force_login(world["staff_a"])
    credential = client.get(f"/training/certificates/{certificate.code}/badge.json").json()
    (proof,) = credential["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"].startswith(credential["issuer"]["id"] + "#z6Mk")
    assert badges.verify(credential)
    assert schema_errors(credential) == []
    # The schema is not a rubber stamp: a credential without an issuer fails it.
    assert schema_errors({k: v for k, v in credential.items() if k != "issuer"})


def test_an_independent_verifier_accepts_the_badge_and_rejects_a_tampered_one(
    tmp_path, certificate
):
    credential = badges.credential(certificate)
    renamed = copy.deepcopy(credential)
    renamed["credentialSubject"]["name"] = "Mallory"
    backdated = copy.deepcopy(credential)
    backdated["validFrom"] = "2020-01-01T00:00:00Z"  # backdated
    other_course = copy.deepcopy(credential)
    other_course["credentialSubject"]["achievement"]["name"] = "Advanced cataloguing"
    verdicts = independent_verdicts(
        tmp_path,
        {"genuine": credential, "renamed": renamed, "backdated": backdated, "course": other_course},
    )
    assert verdicts["genuine"] == {
        "file": str(tmp_path / "genuine.json"),
        "verified": True,
        "error": None,
    }
    for name in ("renamed", "backdated", "course"):
        assert verdicts[name]["verified"] is False, name
        assert "signature" in verdicts[name]["error"].lower(), verdicts[name]


def test_signing_reads_only_bundled_contexts_and_refuses_undefined_terms(certificate):
    with pytest.raises(badges.UnknownContext):
        badges.document_loader("https://example.org/context.jsonld")
    credential = badges.credential(certificate)
    document = {k: v for k, v in credential.items() if k != "proof"}
    # A term no context defines would be silently left out of the signed RDF.
    with pytest.raises(badges.UndefinedTerm):
        badges.sign({**document, "favouriteColour": "blue"}, created="2026-01-01T00:00:00Z")
    with pytest.raises(badges.UnknownContext):
        badges.sign(
            {**document, "@context": [*badges.CONTEXTS, "https://example.org/more.jsonld"]},
            created="2026-01-01T00:00:00Z",
        )
    # A verifier handed such a document says no rather than raising.
    assert not badges.verify({**credential, "@context": ["https://example.org/x.jsonld"]})


def test_badges_signed_before_the_switch_still_verify(client, certificate):
    legacy = legacy_credential(certificate)
    assert legacy["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert badges.verify(legacy)
    tampered = copy.deepcopy(legacy)
    tampered["credentialSubject"]["name"] = "Mallory"
    assert not badges.verify(tampered)
    # At the public verification URL, as a pasted file, with the certificate's status.
    for credential, answer in ((legacy, "valid"), (badges.credential(certificate), "valid")):
        page = client.post("/training/verify/", {"badge_json": json.dumps(credential)})
        text = page.content.decode()
        assert f'data-badge="{answer}"' in text
        assert 'data-status="genuine"' in text and certificate.holder_name in text
    page = client.post("/training/verify/", {"badge_json": json.dumps(tampered)})
    text = page.content.decode()
    assert 'data-badge="invalid"' in text and certificate.holder_name not in text


def test_a_foreign_key_cannot_pass_for_ours(client, certificate):
    credential = badges.credential(certificate)
    forged = {k: v for k, v in copy.deepcopy(credential).items() if k != "proof"}
    other = Ed25519PrivateKey.generate()
    did = badges.did_key(other.public_key())
    forged["issuer"]["id"] = did
    options = {
        "@context": forged["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": credential["proof"][0]["created"],
        "verificationMethod": f"{did}#{did.removeprefix('did:key:')}",
        "proofPurpose": "assertionMethod",
    }
    proof = {k: v for k, v in options.items() if k != "@context"}
    proof["proofValue"] = "z" + badges.b58encode(other.sign(badges._hash_data(forged, options)))
    forged["proof"] = [proof]
    assert badges.verify(forged, trusted_issuer=did)  # sound by itself...
    assert not badges.verify(forged)  # ...but not ours
    page = client.post("/training/verify/", {"badge_json": json.dumps(forged)})
    assert 'data-badge="invalid"' in page.content.decode()
    assert not badges.check_badge(b"{not json").valid
    assert not badges.check_badge(b"x" * (badges.MAX_BADGE_BYTES + 1)).valid


def test_a_badge_handed_out_before_the_switch_verifies_as_it_was(client, settings, certificate):
    settings.TRAINING_BADGE_SIGNING_KEY = legacy_key_pem()
    badges._load_key.cache_clear()
    handed_out = json.loads(LEGACY_BADGE.read_text())
    assert handed_out["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert badges.verify(handed_out)
    altered = copy.deepcopy(handed_out)
    altered["validUntil"] = "2099-01-01T00:00:00Z"
    assert not badges.verify(altered)
    # At the verification URL, beside the status of the certificate it names.
    Certificate.objects.filter(pk=certificate.pk).update(code="LGCY-2026")
    text = client.post("/training/verify/", {"badge_json": LEGACY_BADGE.read_text()}).content
    assert b'data-badge="valid"' in text and b'data-status="genuine"' in text
