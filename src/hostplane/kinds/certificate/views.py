"""A certificate's API bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hostplane.api.schemas import RequestBody


class CertificateUpload(RequestBody):
    certificate: str = Field(
        min_length=1, max_length=200_000, description="PEM: the certificate, then its chain"
    )
    key: str = Field(min_length=1, max_length=20_000, description="PEM: its private key")


class ServedCertificateView(BaseModel):
    domain: str
    served_fingerprint: str | None = Field(description="what the edge presents for the name")
    stored_fingerprint: str | None = Field(description="what the database says it should")
    healthy: bool
    explanation: str
