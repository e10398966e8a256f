"""What every provider shares: the outcome of a mutation and the error kinds.

Every mutation is an ``ensure_*`` or ``remove_*`` that returns an Outcome, so
running it twice reports UNCHANGED (or ABSENT) the second time.
"""

from __future__ import annotations

from hostplane.errors import PermanentError, ProviderError, TemporaryError
from hostplane.kernel.outcome import Outcome

__all__ = ["Outcome", "PermanentError", "ProviderError", "TemporaryError"]
