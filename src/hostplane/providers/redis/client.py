"""Connections to an instance over its unix socket, and Redis errors as Hostplane's kinds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hostplane.errors import PermanentError, TemporaryError


def connect(socket: Path, user: str, password: str, timeout: float = 5.0) -> redis.Redis:
    """One connection, no retries of its own (the step's retry policy decides), RESP2 replies
    as text. The password travels in `HELLO ... AUTH` over the socket, nowhere else."""
    return redis.Redis(
        unix_socket_path=str(socket),
        username=user,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        protocol=2,
        single_connection_client=True,
    )


@contextmanager
def session(socket: Path, user: str, password: str, what: str) -> Iterator[redis.Redis]:
    """A connection for the `with` block; Redis's answer becomes Temporary/PermanentError,
    a refused login or an instance that does not answer at connect time included."""
    client = None
    try:
        client = connect(socket, user, password)
        yield client
    except redis.AuthenticationError as exc:
        raise PermanentError(
            f"{what}: {user} was refused by the instance", detail=str(exc)
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise TemporaryError(
            f"{what}: the instance at {socket} did not answer", detail=str(exc)
        ) from exc
    except redis.ResponseError as exc:
        raise PermanentError(f"{what}: the instance refused", detail=str(exc)) from exc
    finally:
        if client is not None:
            client.close()


def categories(client: redis.Redis) -> dict[str, frozenset[str]]:
    """Every ACL category with its commands, in two round trips."""
    names = [str(name) for name in client.acl_cat()]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.acl_cat(name)
    return {
        name: frozenset(str(c).lower() for c in members)
        for name, members in zip(names, pipe.execute(), strict=True)
    }
