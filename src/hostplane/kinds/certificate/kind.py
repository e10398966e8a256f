"""The certificate kind, as the kernel sees it: a child of the custom domain."""

from __future__ import annotations

from hostplane.kernel.kind import Kind
from hostplane.kinds.certificate import api, edge
from hostplane.kinds.certificate.lifecycle import CertificateSaga
from hostplane.kinds.certificate.model import KIND as NAME
from hostplane.kinds.certificate.model import PARENT, CertificateOp
from hostplane.kinds.certificate.steps import STEPS
from hostplane.kinds.certificate.workflow import renew_certificate, schedules, upload_certificate
from hostplane.kinds.domain.repo import DomainTarget
from hostplane.kinds.site.edge import EDGE

KIND: Kind[DomainTarget] = Kind(
    name=NAME,
    parent=PARENT,
    operations={
        CertificateOp.UPLOAD: upload_certificate,
        CertificateOp.RENEW: renew_certificate,
    },
    saga=CertificateSaga(),
    steps=STEPS,
    schedules=schedules,
    routers=(api.router,),
    contributes={EDGE: edge.contribute},
)
