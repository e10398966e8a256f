"""How certificate operations run: the saga hooks the kernel calls. A certificate operation
works on its domain, which keeps its state (and its old certificate when one fails)."""

from __future__ import annotations

from hostplane.kernel.kind import Plan
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.certificate.model import (
    OWNER,
    PREVIOUS_CERT,
    PREVIOUS_KEY,
    CertificateOp,
    Step,
)
from hostplane.kinds.domain.lifecycle import OnDomain
from hostplane.kinds.domain.model import DomainStatus
from hostplane.kinds.domain.repo import DomainTarget
from hostplane.services import Services


class CertificateSaga(OnDomain):
    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, target: DomainTarget) -> Plan:
        if op.kind == CertificateOp.UPLOAD:
            return Plan((Step.UPLOAD,))  # a failure puts the certificate it replaced back
        return Plan((Step.RENEW,), compensate=False, failure="renewal failed")

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, target: DomainTarget, error: str
    ) -> None:
        """The domain keeps its state and is served on while the upload is undone."""

    def finish(
        self,
        ctx: Services,
        uow: UnitOfWork,
        op: OperationRow,
        target: DomainTarget,
        error: str | None,
    ) -> str | None:
        if error is not None:
            target.domain.last_error = error
            return error
        if target.domain.status == DomainStatus.ACTIVE:
            # A served domain whose certificate is now in force has no error left (an earlier
            # renewal's); a domain in another state keeps what explains that state.
            target.domain.last_error = None
        if op.kind == CertificateOp.UPLOAD:  # the old certificate is not needed back
            for name in (PREVIOUS_CERT, PREVIOUS_KEY):
                uow.secrets.delete(OWNER, target.domain.id, name)
        return error
