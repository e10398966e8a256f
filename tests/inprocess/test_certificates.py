"""Certificates from an ACME CA as part of a domain's addition (compensated with it), their
renewal, which stops without compensation and leaves the served certificate alone, and
uploads, whose undo puts the certificate they replaced back.

Providers are fakes, the CA too (it validates HTTP-01 through the fake edge): this tier
tests the certificate kind's steps and hooks and the kernel's plan without compensation."""

from __future__ import annotations

import pytest

from hostplane.errors import PermanentError
from hostplane.kernel.operations import Submitted
from hostplane.kinds.certificate.model import ALL_PEMS, CERT_PEM, KEY_PEM, OWNER, CertificateOp
from hostplane.kinds.certificate.requests import record_due_renewals, upload_certificate
from tests.inprocess.fakes import self_signed
from tests.inprocess.helpers import ACTOR, add_domain, create_site
from tests.inprocess.plane import Plane

WWW = "www.shop.example"


def refused() -> PermanentError:
    return PermanentError("the CA refused to finalize the order", detail="rateLimited")


@pytest.fixture
def acme() -> bool:
    return True


@pytest.fixture
def shop(plane: Plane) -> Plane:
    """An ACTIVE php site, shop, whose custom domains' DNS is right."""
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    plane.world.dns.point(WWW)
    plane.world.journal.clear()
    return plane


def certificates(plane: Plane, domain_id: str) -> list[str]:
    with plane.store.unit_of_work() as uow:
        found = uow.secrets.for_owners(OWNER, [domain_id], ALL_PEMS)
    return sorted(found.get(domain_id, {}))


def test_an_added_domain_gets_a_certificate_the_edge_presents(shop: Plane):
    """Providers are fakes. With a CA the addition's plan has the certificate step: the
    challenge is published, answered and withdrawn, and the edge presents what was issued."""
    sub = add_domain(shop.services, WWW)
    assert shop.run(sub) == "SUCCEEDED"
    assert [s[0] for s in shop.steps(sub.operation_id)] == ["dns", "route", "certificate"]
    domain = shop.domain(WWW)
    assert (domain.status, domain.cert_source) == ("ACTIVE", "acme")
    assert domain.cert_fingerprint == shop.world.acme.issued[-1]
    assert shop.world.edge.presented(WWW) == domain.cert_fingerprint
    assert shop.world.edge.state.challenges == ()
    assert (domain.acme_token, domain.acme_validation) == (None, None)
    journal = shop.world.journal
    assert journal.index("acme.issue", WWW) < journal.index("edge.confirm_certificate", WWW)


def test_a_refused_certificate_undoes_the_addition(shop: Plane):
    """Providers are fakes. The CA refuses after validating: the challenge is withdrawn, the
    certificate and the route are undone in reverse, the domain is FAILED with the CA's
    answer and is served no more."""
    shop.world.journal.fail("acme.finalize", refused)
    sub = add_domain(shop.services, WWW)
    assert shop.run(sub) == "FAILED"
    assert [s[:2] for s in shop.steps(sub.operation_id) if s[1] == "undo"] == [
        ("certificate", "undo"),
        ("route", "undo"),
    ]
    domain = shop.domain(WWW)
    assert (domain.status, domain.last_error) == ("FAILED", str(refused()))
    assert shop.world.edge.state.challenges == ()
    assert not shop.world.edge.serves(WWW)
    assert certificates(shop, domain.id) == []


def test_a_failed_renewal_keeps_the_certificate_served_and_a_later_one_replaces_it(
    shop: Plane,
):
    """Providers are fakes. A renewal that fails is not compensated: the domain stays
    ACTIVE with its certificate presented and the failure in its last error; the next
    renewal replaces the certificate and clears the error."""
    assert shop.run(add_domain(shop.services, WWW)) == "SUCCEEDED"
    first = shop.domain(WWW).cert_fingerprint
    shop.settings.cert_renew_before_days = 3650  # every certificate is due

    shop.world.journal.fail("acme.finalize", refused)
    [renewal] = record_due_renewals(shop.services, actor="scheduler")
    shop.engine.submit(renewal, CertificateOp.RENEW)
    assert shop.wait(renewal) == "FAILED"
    error = f"renewal failed: {refused()}"
    assert shop.operation(renewal).error == error
    assert [s[:3] for s in shop.steps(renewal)] == [("renew", "apply", "failed")]
    domain = shop.domain(WWW)
    assert (domain.status, domain.last_error, domain.cert_fingerprint) == ("ACTIVE", error, first)
    assert shop.world.edge.presented(WWW) == first

    [again] = record_due_renewals(shop.services, actor="scheduler")
    shop.engine.submit(again, CertificateOp.RENEW)
    assert shop.wait(again) == "SUCCEEDED"
    domain = shop.domain(WWW)
    assert domain.cert_fingerprint not in (None, first)
    assert shop.world.edge.presented(WWW) == domain.cert_fingerprint
    assert (domain.status, domain.last_error) == ("ACTIVE", None)


def test_an_upload_the_edge_does_not_present_puts_the_previous_certificate_back(shop: Plane):
    """Providers are fakes. An uploaded certificate replaces the ACME one; the edge does not
    present it: the upload is undone, the ACME certificate is back in force (source and
    fingerprint) with nothing else kept; uploaded again, it serves and the old one goes."""
    assert shop.run(add_domain(shop.services, WWW)) == "SUCCEEDED"
    first = shop.domain(WWW).cert_fingerprint
    cert_pem, key_pem = self_signed(WWW)
    shop.world.journal.fail(
        "edge.confirm_certificate", lambda: PermanentError("the edge presents another one")
    )
    sub = upload(shop, cert_pem, key_pem)
    assert shop.run(sub) == "FAILED"
    assert [s[:3] for s in shop.steps(sub.operation_id)] == [
        ("upload", "apply", "failed"),
        ("upload", "undo", "succeeded"),
    ]
    domain = shop.domain(WWW)
    assert (domain.status, domain.cert_source, domain.cert_fingerprint) == ("ACTIVE", "acme", first)
    assert shop.world.edge.presented(WWW) == first
    assert certificates(shop, domain.id) == sorted([CERT_PEM, KEY_PEM])

    sub = upload(shop, cert_pem, key_pem)
    assert shop.run(sub) == "SUCCEEDED"
    domain = shop.domain(WWW)
    assert domain.cert_source == "uploaded"
    assert shop.world.edge.presented(WWW) == domain.cert_fingerprint != first
    assert certificates(shop, domain.id) == sorted([CERT_PEM, KEY_PEM])
    assert domain.last_error is None


def upload(plane: Plane, cert_pem: str, key_pem: str) -> Submitted:
    return upload_certificate(
        plane.services,
        site_name="shop",
        domain=WWW,
        certificate_pem=cert_pem,
        key_pem=key_pem,
        actor=ACTOR,
    )
