"""Recording a cache user's update: a new random password, made and sealed beside the current
one (NEXT_PASSWORD) in the request's transaction and handed back once; the row's password is
the new one only when the operation succeeded (a failed one leaves the old password working)."""

from __future__ import annotations

from hostplane.errors import ConflictError, NotFoundError, ValidationError
from hostplane.kernel.operations import refuse_if_busy, replay, request_hash, submit
from hostplane.kinds.cache.lifecycle import audit
from hostplane.kinds.cache.model import KIND, USER_KIND, CacheOp, CacheStatus, user_handle
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.requests import UserSubmitted
from hostplane.kinds.cache.steps import NEXT_PASSWORD, SECRET_OWNER
from hostplane.providers.redis.acl import generate_password
from hostplane.services import Services


def update_user(
    services: Services,
    *,
    cache: str,
    name: str,
    actor: str,
    rotate_password: bool,
    idempotency_key: str | None = None,
    scope: str | None = None,
) -> UserSubmitted:
    if not rotate_password:
        raise ValidationError("nothing to change: give rotate_password: true (a new password)")
    fingerprint = request_hash({"op": CacheOp.USER_UPDATE, "cache": cache, "name": name})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return UserSubmitted(replayed, None)
        row = caches(uow).live_or_404(cache, scope)
        user = users(uow).get_live(user_handle(row.name, name))
        if user is None:
            raise NotFoundError(f"cache {cache!r} has no user {name!r}")
        refuse_if_busy(uow, KIND, row.name)
        refuse_if_busy(uow, USER_KIND, user.name)
        if user.status != CacheStatus.ACTIVE or row.status != CacheStatus.ACTIVE:
            raise ConflictError(
                f"cache user {name!r} is {user.status} (its cache {row.status}): only ACTIVE "
                "users of ACTIVE caches get a new password (retry or delete a FAILED one)"
            )
        caches(uow).touch(row)  # a delete or reassign of the cache racing this: one is a 409
        users(uow).touch(user)
        secret = generate_password()
        uow.secrets.put(SECRET_OWNER, user.id, NEXT_PASSWORD, services.secrets.seal(secret))
        sub = submit(USER_KIND, uow, user, CacheOp.USER_UPDATE, actor, idempotency_key, fingerprint)
        audit(uow, actor, user, "cache.user.update", "a new password", sub.operation_id)
        return UserSubmitted(sub, secret)
