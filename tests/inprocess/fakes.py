"""Fake providers for the in-process tier: they keep what they hold in memory, record every
call in one journal (in order) and fail on command.

They stand in for the real systems only where the kernel depends on their behaviour: every
`ensure_*` / `remove_*` is idempotent and says what it did (an Outcome), the edge's `confirm`
passes only when the applied state routes the host to the route, `get` answers through the
applied state with what the runtime behind it serves, the installer needs the edge to serve
the site. What the real systems do is tested against them (tests/integration, tests/e2e).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hostplane import naming
from hostplane.errors import (
    ForeignResourceError,
    NotFoundError,
    PermanentError,
    TemporaryError,
)
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import Store
from hostplane.providers.acme.issuer import IssuedCertificate, Publish, describe_leaf
from hostplane.providers.dnscheck.verdict import DnsAnswer
from hostplane.providers.edge import (
    ACME_CHALLENGE_PATH,
    SUSPENDED,
    EdgeRoute,
    EdgeSlice,
    EdgeState,
)
from hostplane.providers.local.accounts import Account
from hostplane.providers.mariadb.identifiers import ALL_PRIVILEGES, READ_PRIVILEGES, grant_pattern
from hostplane.providers.mariadb.tenant_dbs import Endpoint, TenantObservation
from hostplane.providers.openssh.config import SftpState, SftpUser
from hostplane.providers.powerdns.names import canonical_name
from hostplane.providers.powerdns.rrsets import (
    Change,
    Delete,
    RRset,
    apex,
    check_in_zone,
    effective,
)
from hostplane.providers.redis.config import InstanceSpec
from hostplane.providers.redis.instances import InstanceState
from hostplane.providers.redis.rules import WantedUser, password_hash
from hostplane.providers.runtime import (
    FastCGI,
    RuntimeKind,
    SiteSecrets,
    SiteSpec,
    SiteType,
    StaticFiles,
    Upstream,
)
from hostplane.secretbox import SecretBox
from hostplane.services import Services, dns_expectation
from hostplane.settings import Settings

PLATFORM_IP = "203.0.113.10"  # the edge's public address in the tier's settings


class Call(NamedTuple):
    name: str  # provider.method, e.g. "runtime.ensure_files"
    target: str  # what it was called for: a site, a host, a database


@dataclass
class _Armed:
    action: Callable[[], None]  # raises (a fault) or waits (a pause)
    times: int | None  # None: every call


class Journal:
    """Every provider call in order, and what is armed for the next calls (a fault, a
    pause): it happens after the call is noted, before the fake does anything."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._armed: dict[str, _Armed] = {}
        self._lock = threading.Lock()

    def fail(self, name: str, error: Callable[[], BaseException], *, times: int | None = 1) -> None:
        """The next `times` calls of `name` (every call when None) raise `error()`."""

        def fault() -> None:
            raise error()

        self.when(name, fault, times=times)

    def when(self, name: str, action: Callable[[], None], *, times: int | None = 1) -> None:
        """The next `times` calls of `name` (every call when None) run `action` first."""
        with self._lock:
            self._armed[name] = _Armed(action, times)

    def record(self, name: str, target: str) -> None:
        """Note the call, then run what is armed for it (the call was attempted)."""
        with self._lock:
            self.calls.append(Call(name, target))
            armed = self._armed.get(name)
            if armed is None:
                return
            if armed.times is not None:
                armed.times -= 1
                if armed.times == 0:
                    del self._armed[name]
        armed.action()

    def names(self, *prefixes: str) -> list[str]:
        """The calls' names in order (those starting with one of `prefixes`, if given)."""
        with self._lock:
            return [c.name for c in self.calls if not prefixes or c.name.startswith(prefixes)]

    def count(self, name: str, target: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for c in self.calls if c.name == name and (target is None or c.target == target)
            )

    def index(self, name: str, target: str) -> int:
        """Where the first call `name` for `target` is in the journal."""
        with self._lock:
            return self.calls.index(Call(name, target))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


@dataclass(frozen=True, slots=True)
class FakeResponse:
    """What a visitor gets through the edge (the parts the steps read)."""

    status_code: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Site:
    type: SiteType
    files: bool = False
    app: bool = False


class FakeRuntime:
    """The local runtime in memory: files, a PHP process; the edge serves the files itself."""

    kind = RuntimeKind.LOCAL
    supported_types = frozenset(SiteType)

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.sites: dict[str, _Site] = {}

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome:
        self.journal.record("runtime.ensure_files", spec.name)
        if spec.type is SiteType.WORDPRESS and secrets is None:
            raise PermanentError(f"site {spec.name}: WordPress files need the site's secrets")
        site = self.sites.setdefault(spec.name, _Site(spec.type))
        if site.files:
            return Outcome.UNCHANGED
        site.files = True
        return Outcome.CREATED

    def remove_files(self, spec: SiteSpec) -> Outcome:
        self.journal.record("runtime.remove_files", spec.name)
        site = self.sites.get(spec.name)
        if site is None or not site.files:
            return Outcome.ABSENT
        site.files = False
        return Outcome.DELETED

    def ensure_app(self, spec: SiteSpec) -> Outcome:
        self.journal.record("runtime.ensure_app", spec.name)
        if spec.type is SiteType.STATIC:
            return Outcome.UNCHANGED  # static sites have no application process
        site = self.sites.get(spec.name)
        if site is None or not site.files:
            raise PermanentError(f"site {spec.name} has no files: the files step must run first")
        if site.app:
            return Outcome.UNCHANGED
        site.app = True
        return Outcome.CREATED

    def remove_app(self, spec: SiteSpec) -> Outcome:
        self.journal.record("runtime.remove_app", spec.name)
        site = self.sites.get(spec.name)
        if site is None or not site.app:
            return Outcome.ABSENT
        site.app = False
        return Outcome.DELETED

    def ensure_web(self, spec: SiteSpec) -> Outcome:
        self.journal.record("runtime.ensure_web", spec.name)
        return Outcome.UNCHANGED  # the edge serves local sites itself

    def remove_web(self, spec: SiteSpec) -> Outcome:
        self.journal.record("runtime.remove_web", spec.name)
        return Outcome.ABSENT

    def upstream(self, spec: SiteSpec) -> Upstream:
        root = f"/fake/sites/{spec.name}/public"
        if spec.type is SiteType.STATIC:
            return StaticFiles(root=root)
        return FastCGI(root=root, dial=f"unix//fake/run/{spec.name}.sock")

    def answer(self, upstream: Upstream) -> FakeResponse:
        """What the site behind `upstream` serves, as it is now."""
        root = getattr(upstream, "root", "")
        site = self.sites.get(root.removeprefix("/fake/sites/").removesuffix("/public"))
        if site is None or not site.files:
            return FakeResponse(404, "no such file")
        if isinstance(upstream, FastCGI) and not site.app:
            return FakeResponse(502, "no PHP-FPM behind the socket")
        if site.type is SiteType.WORDPRESS:
            return FakeResponse(302, headers={"location": "/wp-admin/install.php"})
        return FakeResponse(200, "placeholder page")

    def holds(self) -> dict[str, tuple[bool, bool]]:
        """Per site: (files, app) — what is left on the host."""
        return {n: (s.files, s.app) for n, s in self.sites.items() if s.files or s.app}


class FakeAccounts:
    """Tenants' accounts in memory: a user and home per tenant, and its live processes."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.homes: set[str] = set()
        self.processes: dict[str, int] = {}  # tenant → processes of its user
        self.spared: dict[str, Callable[[int], bool]] = {}  # tenant → what its suspension kept
        self.homes_dir = Path("/fake/homes")

    def home(self, tenant: str) -> Path:
        return self.homes_dir / tenant

    def ensure(self, account: Account) -> Outcome:
        self.journal.record("accounts.ensure", account.tenant)
        if account.tenant in self.homes:
            return Outcome.UNCHANGED
        self.homes.add(account.tenant)
        return Outcome.CREATED

    def exists(self, account: Account) -> bool:
        return account.tenant in self.homes

    def sftp_group(self, account: Account) -> int | None:
        return 20000 if account.tenant in self.homes else None

    def ids(self, account: Account) -> tuple[int, int]:
        if account.tenant not in self.homes:
            raise PermanentError(f"the system user of tenant {account.tenant} is missing")
        return 20000 + sorted(self.homes).index(account.tenant), 20000

    def end_processes(self, account: Account, spare: Callable[[int], bool] | None = None) -> int:
        self.journal.record("accounts.end_processes", account.tenant)
        self.spared[account.tenant] = spare or (lambda pid: False)
        return self.processes.pop(account.tenant, 0)

    def remove(self, account: Account) -> Outcome:
        self.journal.record("accounts.remove", account.tenant)
        if account.tenant not in self.homes:
            return Outcome.ABSENT
        self.homes.discard(account.tenant)
        return Outcome.DELETED

    def inventory(self) -> tuple[frozenset[str], dict[str, str]]:
        return frozenset(self.homes), {
            naming.site_system_user(t): f"tenant:{t}" for t in self.homes
        }

    def disk_usage(self, account: Account) -> int:
        return 0


class FakeSftp:
    """The SFTP server in memory: the state last applied (who may log in, with which keys)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.state: SftpState | None = None

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def apply(self, state: SftpState) -> Outcome:
        self.journal.record("sftp.apply", ",".join(u.user for u in state.users))
        state = SftpState(tuple(sorted(state.users, key=lambda u: u.user)))
        if state == self.state:
            return Outcome.UNCHANGED
        self.state = state
        return Outcome.UPDATED

    def apply_user(self, name: str, user: SftpUser | None) -> Outcome:
        self.journal.record("sftp.apply_user", name)
        others = tuple(u for u in (self.state.users if self.state else ()) if u.user != name)
        state = SftpState(tuple(sorted((*others, *([user] if user else [])), key=lambda u: u.user)))
        if state == self.state:
            return Outcome.UNCHANGED
        self.state = state
        return Outcome.UPDATED

    def drift(self, state: SftpState) -> list[str]:
        mine = {u.user: u for u in (self.state.users if self.state else ())}
        theirs = {u.user: u for u in state.users}
        return sorted(
            f"keys/{n}" for n in mine.keys() | theirs.keys() if mine.get(n) != theirs.get(n)
        )

    def users(self) -> list[str]:
        return sorted(u.user for u in (self.state.users if self.state else ()))


class FakeEdge:
    """The edge in memory: the state last applied, served from the runtime's answers."""

    def __init__(self, journal: Journal, runtime: FakeRuntime) -> None:
        self.journal = journal
        self.runtime = runtime
        self.state: EdgeState | None = None

    def apply(self, state: EdgeState) -> Outcome:
        self.journal.record("edge.apply", ",".join(sorted(self._hosts(state))))
        if state == self.state:
            return Outcome.UNCHANGED
        outcome = Outcome.CREATED if self.state is None else Outcome.UPDATED
        self.state = state
        return outcome

    @staticmethod
    def _hosts(state: EdgeState | None) -> list[str]:
        return [host for route in (state.routes if state else ()) for host in route.hosts]

    def hosts(self) -> list[str]:
        return sorted(self._hosts(self.state))

    def route_for(self, host: str) -> EdgeRoute | None:
        host = host.rsplit(":", 1)[0]  # a Host header's port does not take part in matching
        wildcard = "*." + host.split(".", 1)[-1]  # as Caddy matches: one label, exact first
        routes = self.state.routes if self.state else ()
        for name in (host, wildcard):
            for route in routes:
                if name in route.hosts:
                    return route
        return None

    def serves(self, host: str) -> bool:
        return self.route_for(host) is not None

    def confirm(self, host: str, route_id: str) -> FakeResponse:
        self.journal.record("edge.confirm", host)
        route = self.route_for(host)
        if route is None or route.route_id != route_id:
            served = route.route_id if route else "none"
            raise PermanentError(f"the edge does not serve {host} from {route_id}", detail=served)
        return self._answer(host, "/")

    def confirm_gone(self, host: str) -> None:
        self.journal.record("edge.confirm_gone", host)
        route = self.route_for(host)
        if route is not None:
            raise PermanentError(f"the edge still answers for {host}", detail=route.route_id)

    def get(self, host: str, path: str = "/") -> FakeResponse:
        self.journal.record("edge.get", host)
        return self._answer(host, path)

    def _answer(self, host: str, path: str) -> FakeResponse:
        if path.startswith(ACME_CHALLENGE_PATH):  # answered by the edge itself, for any host
            validation = self.challenge(host, path.removeprefix(ACME_CHALLENGE_PATH))
            return FakeResponse(200, validation) if validation else FakeResponse(404)
        route = self.route_for(host)
        if route is None:
            return FakeResponse(404)
        if route.maintenance and route.maintenance_reason == SUSPENDED:
            return FakeResponse(503, "Suspended")
        if route.maintenance:
            return FakeResponse(503, "Down for maintenance")
        return self.runtime.answer(route.upstream)

    def in_sync(self, state: EdgeState) -> tuple[bool, frozenset[str]]:
        """Whether the edge serves exactly `state` (one read), and the route ids it serves."""
        self.journal.record("edge.in_sync", "config")
        ids = frozenset(r.route_id for r in (self.state.routes if self.state else ()))
        return self.state == state, ids

    def reaches_installer(self, host: str, key: str | None) -> bool:
        """Whether a request for the host's installer gets through: routed, not in maintenance,
        and not denied (unless it carries the route's installer key)."""
        route = self.route_for(host)
        if route is None or route.maintenance:
            return False
        denied = any(p.startswith("/wp-admin/install.php") for p in route.denied_paths)
        return not denied or (key is not None and key == route.installer_key)

    def challenge(self, host: str, token: str) -> str | None:
        for c in self.state.challenges if self.state else ():
            if (c.host, c.token) == (host, token):
                return c.validation
        return None

    def presented(self, host: str) -> str | None:
        """The fingerprint of the certificate the edge presents for `host`, if any."""
        for cert in self.state.certificates if self.state else ():
            if cert.host == host:
                return describe_leaf(cert.certificate_pem)[1]
        return None

    def confirm_certificate(self, host: str, fingerprint: str) -> None:
        self.journal.record("edge.confirm_certificate", host)
        served = self.presented(host)
        if served != fingerprint:
            raise PermanentError(
                f"the edge does not present the new certificate for {host}",
                detail=f"served {served or 'no certificate'}, expected {fingerprint}",
            )

    def close(self) -> None:
        pass


class FakeDatabases:
    """The site database server in memory: databases with their owner, users' passwords."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.databases: dict[str, str] = {}  # name → user
        self.users: dict[str, str] = {}  # user → password
        self.tables: set[str] = set()  # databases holding tables (an installed WordPress)

    def ensure_database(self, name: str, user: str, password: str) -> Outcome:
        self.journal.record("databases.ensure_database", name)
        had = name in self.databases and user in self.users
        self.databases[name], self.users[user] = user, password  # converges on the password
        return Outcome.UNCHANGED if had else Outcome.CREATED

    def check_login(self, user: str, password: str, database: str) -> None:
        self.journal.record("databases.check_login", database)
        if self.users.get(user) != password or self.databases.get(database) != user:
            raise PermanentError(f"{user} cannot log in to {database}")

    def remove_database(self, name: str, user: str) -> Outcome:
        self.journal.record("databases.remove_database", name)
        had = name in self.databases or user in self.users
        self.databases.pop(name, None)
        self.users.pop(user, None)
        self.tables.discard(name)
        return Outcome.DELETED if had else Outcome.ABSENT

    def observe(self) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(self.databases), frozenset(self.users)

    def populated(self) -> frozenset[str]:
        return frozenset(self.tables & set(self.databases))

    def inventory(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        return (*self.observe(), self.populated())

    def lose(self, name: str) -> None:
        """Someone dropped the database by hand: its tables and data are gone."""
        self.databases.pop(name, None)
        self.tables.discard(name)

    def socket_path(self) -> str:
        return "/fake/run/mysqld.sock"


class FakeTenantDatabases:
    """The tenants' databases and accounts in memory: databases (all this plane's), accounts
    with their passwords, grants account → {grant pattern → privileges}. `unmarked`: someone
    else's databases and accounts, which nothing here may touch. `sites`: the sites' databases
    on the same server (a tenant's user may be granted on one of them)."""

    def __init__(self, journal: Journal, sites: FakeDatabases | None = None) -> None:
        self.journal = journal
        self.sites = sites
        self.databases: set[str] = set()
        self.accounts: dict[str, str] = {}
        self.grants: dict[str, dict[str, frozenset[str]]] = {}
        self.locked: set[str] = set()
        self.unmarked: set[str] = set()
        self.tables: dict[str, set[str]] = {}  # database → its tables
        self.views: dict[str, set[str]] = {}  # database → its views (they cannot move)
        self.dumps: dict[str, tuple[int, list[str]]] = {}  # path → (owner uid, its tables)
        self._sets = {"ALL PRIVILEGES": ALL_PRIVILEGES, "SELECT, SHOW VIEW": READ_PRIVILEGES}

    def _refuse_foreign(self, name: str) -> None:
        if name in self.unmarked:
            raise ForeignResourceError(f"{name} belongs to nobody: not this plane's")

    def endpoint(self) -> Endpoint:
        return Endpoint(host="localhost", port=3306, socket="/fake/run/mysqld.sock")

    def ensure_tenant_database(self, name: str) -> Outcome:
        self.journal.record("tenant_databases.ensure_database", name)
        self._refuse_foreign(name)
        had = name in self.databases
        self.databases.add(name)
        return Outcome.UNCHANGED if had else Outcome.CREATED

    def remove_tenant_database(self, name: str) -> Outcome:
        self.journal.record("tenant_databases.remove_database", name)
        if name in self.unmarked or name not in self.databases:
            return Outcome.ABSENT
        self.databases.discard(name)
        self.tables.pop(name, None)
        self.views.pop(name, None)
        return Outcome.DELETED

    def dump_database(self, name: str, folder: Path, filename: str, uid: int, gid: int) -> Outcome:
        """A dump is the database's tables at that time, kept under its path (and owner)."""
        self.journal.record("tenant_databases.dump_database", name)
        if name not in self.databases:
            raise PermanentError(f"database {name} is missing: nothing to dump")
        self.dumps[str(folder / filename)] = (uid, sorted(self.tables.get(name, set())))
        return Outcome.CREATED

    def contents(self, name: str) -> dict[str, list[str]]:
        found = {"tables": self.tables.get(name, set()), "views": self.views.get(name, set())}
        return {k: sorted(v) for k, v in found.items() if v}

    def check_movable(self, name: str) -> None:
        self.journal.record("tenant_databases.check_movable", name)
        if self.views.get(name):
            raise PermanentError(f"database {name} holds views: {sorted(self.views[name])}")

    def move_tables(self, source: str, target: str) -> Outcome:
        self.journal.record("tenant_databases.move_tables", f"{source}>{target}")
        if target not in self.databases:
            raise PermanentError(f"database {target} is missing")
        moving = self.tables.pop(source, set()) if source in self.databases else set()
        self.tables.setdefault(target, set()).update(moving)
        return Outcome.UPDATED if moving else Outcome.UNCHANGED

    def remove_empty_tenant_database(self, name: str) -> Outcome:
        if self.contents(name):
            raise PermanentError(f"database {name} is not empty: {self.contents(name)}")
        return self.remove_tenant_database(name)

    def ensure_account(
        self, user: str, password: str, database: str, grant: str, locked: bool = False
    ) -> Outcome:
        self.journal.record("tenant_databases.ensure_account", user)
        self._refuse_foreign(user)
        site_databases = self.sites.databases if self.sites else {}
        if database not in self.databases and database not in site_databases:
            raise PermanentError(f"database {database} is missing")
        had = user in self.accounts
        want = {grant_pattern(database): self._sets[grant]}
        changed = self.grants.get(user) != want or (user in self.locked) != locked
        self.accounts[user] = password
        self.grants[user] = want
        self._set_lock(user, locked)
        return Outcome.CREATED if not had else Outcome.UPDATED if changed else Outcome.UNCHANGED

    def _set_lock(self, user: str, locked: bool) -> None:
        if locked:
            self.locked.add(user)
        else:
            self.locked.discard(user)

    def lock_account(self, user: str, locked: bool) -> Outcome:
        self.journal.record("tenant_databases.lock_account", user)
        if user in self.unmarked or user not in self.accounts:
            return Outcome.ABSENT
        changed = (user in self.locked) != locked
        self._set_lock(user, locked)
        return Outcome.UPDATED if changed else Outcome.UNCHANGED

    def check_account(self, user: str, password: str, database: str, locked: bool = False) -> None:
        if self.accounts.get(user) != password or grant_pattern(database) not in self.grants.get(
            user, {}
        ):
            raise PermanentError(f"{user} cannot use {database}")
        if (user in self.locked) != locked:
            raise PermanentError(f"{user} is {'not ' if locked else ''}locked")

    def remove_account(self, user: str) -> Outcome:
        self.journal.record("tenant_databases.remove_account", user)
        if user in self.unmarked or user not in self.accounts:
            return Outcome.ABSENT
        del self.accounts[user]
        self.grants.pop(user, None)
        self.locked.discard(user)
        return Outcome.DELETED

    def observe_tenants(self, db_prefix: str, user_prefix: str) -> TenantObservation:
        return TenantObservation(
            databases=frozenset(d for d in self.databases if d.startswith(db_prefix)),
            accounts=frozenset(u for u in self.accounts if u.startswith(user_prefix)),
            grants={u: dict(g) for u, g in self.grants.items() if u in self.accounts},
            locked=frozenset(u for u in self.locked if u in self.accounts),
        )


_PIDS = itertools.count(40000)


@dataclass
class FakeInstance:
    spec: InstanceSpec
    alive: bool = True
    pid: int = field(default_factory=lambda: next(_PIDS))
    config_intact: bool = True
    socket_ok: bool = True
    users: dict[str, FakeAclUser] = field(default_factory=dict)


@dataclass
class FakeAclUser:
    key_prefix: str
    password: str
    enabled: bool = True


class FakeCaches:
    """Cache instances and their ACL users in memory: the provider's instances (RedisInstances)
    and ACL (RedisAcl) in one. `unmarked`: instances of nobody, which nothing here may touch."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.instances: dict[str, FakeInstance] = {}
        self.unmarked: set[str] = set()

    @staticmethod
    def digest(spec: InstanceSpec) -> str:
        return hashlib.sha256(repr(spec).encode()).hexdigest()

    def ensure(self, spec: InstanceSpec) -> Outcome:
        self.journal.record("caches.ensure", spec.name)
        if spec.name in self.unmarked:
            raise ForeignResourceError(f"{spec.name} belongs to nobody: not this plane's")
        current = self.instances.get(spec.name)
        if current is None:
            self.instances[spec.name] = FakeInstance(spec)
            return Outcome.CREATED
        if current.alive and current.config_intact and current.socket_ok and current.spec == spec:
            return Outcome.UNCHANGED
        current.spec, current.alive, current.config_intact, current.socket_ok = (
            spec,
            True,
            True,
            True,
        )
        return Outcome.UPDATED

    def remove(self, name: str) -> Outcome:
        self.journal.record("caches.remove", name)
        if name in self.unmarked or self.instances.pop(name, None) is None:
            return Outcome.ABSENT
        return Outcome.DELETED

    def relocate(self, old: str, spec: InstanceSpec) -> Outcome:
        """As RedisInstances.relocate: stopped, renamed, without its users, not started."""
        self.journal.record("caches.relocate", f"{old}->{spec.name}")
        if old in self.instances:
            if spec.name in self.instances:
                raise PermanentError(f"cache instances {old} and {spec.name} both exist")
            source = self.instances.pop(old)
            source.alive, source.users = False, {}
            self.instances[spec.name] = source
        current = self.instances.get(spec.name)
        if current is None:
            raise NotFoundError(f"there is no cache instance {old} (nor {spec.name})")
        if current.spec == spec:
            return Outcome.UNCHANGED
        current.spec, current.alive = spec, False
        return Outcome.UPDATED

    def drop_snapshot(self, name: str) -> Outcome:
        return Outcome.ABSENT

    def observe(self) -> list[InstanceState]:
        return [
            InstanceState(
                name=name,
                pid=i.pid if i.alive else None,
                config_intact=i.config_intact,
                digest=self.digest(i.spec),
                user=i.spec.user,
                group=i.spec.group,
                socket=i.spec.socket if i.socket_ok else None,
                socket_as_configured=i.socket_ok,
            )
            for name, i in sorted(self.instances.items())
        ]

    def socket(self, name: str) -> Path:
        return self._running(name).spec.socket

    def runs(self, pid: int) -> bool:
        return any(i.alive and i.pid == pid for i in self.instances.values())

    def _running(self, name: str) -> FakeInstance:
        instance = self.instances.get(name)
        if instance is None:
            raise NotFoundError(f"there is no cache instance {name}")
        if not instance.alive:
            raise TemporaryError(f"cache instance {name} did not answer")
        return instance

    def ensure_user(
        self, instance: str, name: str, password: str, key_prefix: str, *, enabled: bool = True
    ) -> Outcome:
        self.journal.record("caches.ensure_user", f"{instance}/{name}")
        users = self._running(instance).users
        wanted = FakeAclUser(key_prefix, password, enabled)
        had = users.get(name)
        users[name] = wanted
        return (
            Outcome.CREATED
            if had is None
            else Outcome.UNCHANGED
            if had == wanted
            else Outcome.UPDATED
        )

    def check_login(self, instance: str, name: str, password: str) -> None:
        user = self._running(instance).users.get(name)
        if user is None or user.password != password or not user.enabled:
            raise PermanentError(f"login as {name} was refused")

    def set_enabled(self, instance: str, name: str, on: bool) -> Outcome:
        self.journal.record("caches.set_enabled", f"{instance}/{name}={on}")
        user = self._running(instance).users.get(name)
        if user is None:
            raise NotFoundError(f"cache {instance} has no user {name}")
        changed, user.enabled = user.enabled != on, on
        return Outcome.UPDATED if changed else Outcome.UNCHANGED

    def remove_user(self, instance: str, name: str) -> Outcome:
        self.journal.record("caches.remove_user", f"{instance}/{name}")
        found = self._running(instance).users.pop(name, None)
        return Outcome.ABSENT if found is None else Outcome.DELETED

    def compare(self, instance: str, wanted: list[WantedUser]) -> dict[str, tuple[str, ...]]:
        present = self._running(instance).users
        report: dict[str, tuple[str, ...]] = {}
        for user in wanted:
            actual = present.get(user.name)
            if actual is None:
                report[user.name] = ("missing",)
                continue
            differences = [
                aspect
                for aspect, differs in (
                    ("enabled", actual.enabled != user.enabled),
                    ("password", password_hash(actual.password) != user.password_hash),
                    ("keys", actual.key_prefix != user.key_prefix),
                )
                if differs
            ]
            if differences:
                report[user.name] = tuple(differences)
        for name in present.keys() - {u.name for u in wanted}:
            report[name] = ("unexpected",)
        return report


class FakeInstaller:
    """WordPress's installer, reached through the edge: it needs the site served."""

    installer_key = "fake-installer-key"

    def __init__(self, journal: Journal, edge: FakeEdge, databases: FakeDatabases) -> None:
        self.journal = journal
        self.edge = edge
        self.databases = databases
        self.installed: dict[str, str] = {}  # host → admin password

    @staticmethod
    def _database(host: str) -> str:
        return naming.site_database(host.split(".", 1)[0])

    def install(self, host: str, *, title: str, email: str, password: str) -> Outcome:
        self.journal.record("installer.install", host)
        if not self.edge.reaches_installer(host, self.installer_key):
            raise TemporaryError(f"WordPress at {host} did not answer", detail="no route")
        db = self._database(host)
        if db in self.databases.populated():
            return Outcome.UNCHANGED  # "Already Installed"
        self.databases.tables.add(db)
        self.installed[host] = password
        return Outcome.CREATED

    def check_login(self, host: str, password: str) -> None:
        self.journal.record("installer.check_login", host)
        populated = self._database(host) in self.databases.populated()
        if not populated or self.installed.get(host) != password:
            raise PermanentError(f"WordPress at {host} refused the admin login")


class FakeDns:
    """Resolvers in memory: a name answers the addresses it was pointed at; else, when a zone
    of the fake PowerDNS holds it, its A and AAAA records there (the zone is delegated to it);
    else nothing."""

    def __init__(self, journal: Journal, zones: FakeZones) -> None:
        self.journal = journal
        self.answers: dict[str, tuple[str, ...]] = {}
        self.zones = zones

    def point(self, name: str, *addresses: str) -> None:
        self.answers[name] = addresses or (PLATFORM_IP,)

    def lookup(self, name: str) -> DnsAnswer:
        self.journal.record("dns.lookup", name)
        if name in self.answers:
            return DnsAnswer(name=name, addresses=self.answers[name])
        return DnsAnswer(name=name, addresses=self.zones.addresses(name + "."))


def self_signed(host: str, days: int = 90) -> tuple[str, str]:
    """(certificate PEM, key PEM) of a fresh certificate naming `host`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


class FakeAcme:
    """An ACME CA that validates over HTTP-01 through the edge, as a real one does: the
    challenge must be served when it looks, and what it issues names the domain."""

    def __init__(self, journal: Journal, edge: FakeEdge) -> None:
        self.journal = journal
        self.edge = edge
        self.issued: list[str] = []  # fingerprints, in order

    def issue(self, account_key_pem: str, domain: str, publish: Publish) -> IssuedCertificate:
        self.journal.record("acme.issue", domain)
        token = secrets.token_urlsafe(16)
        validation = f"{token}.{secrets.token_urlsafe(8)}"
        publish(token, validation)
        if self.edge.challenge(domain, token) != validation:
            raise PermanentError(f"the CA could not validate {domain}", detail="HTTP-01: 404")
        self.journal.record("acme.finalize", domain)  # the order, validated, is finalized
        cert_pem, key_pem = self_signed(domain)
        not_after, fingerprint, _ = describe_leaf(cert_pem)
        self.issued.append(fingerprint)
        return IssuedCertificate(cert_pem, key_pem, not_after, fingerprint)


class FakeZones:
    """PowerDNS's zones in memory, as this plane (`owner`) sees them through its provider:
    the provider's own pure rules (whole RRsets, a change set applied all or nothing, a CNAME
    alone at its name); a zone of another account is refused, never changed or removed."""

    def __init__(self, journal: Journal, owner: str = "hpfakeplane") -> None:
        self.journal = journal
        self.owner = owner
        self.held: dict[str, dict[tuple[str, str], RRset]] = {}  # zone → its RRsets
        self.accounts: dict[str, str] = {}  # zone → its account

    def _foreign(self, zone: str) -> None:
        account = self.accounts.get(zone)
        if account is not None and account != self.owner:
            raise ForeignResourceError(f"zone {zone} on PowerDNS is not this control plane's")

    def _own(self, zone: str) -> dict[tuple[str, str], RRset]:
        if zone not in self.held:
            raise PermanentError(f"zone {zone} does not exist on PowerDNS")
        self._foreign(zone)
        return self.held[zone]

    def ensure_zone(
        self,
        name: str,
        nameservers: tuple[str, ...],
        hostmaster: str,
        ttl: int,
        *,
        negative_ttl: int | None = None,
    ) -> Outcome:
        zone = canonical_name(name, what="zone", wildcard=False)
        self.journal.record("zones.ensure_zone", zone)
        self._foreign(zone)
        soa, ns = apex(zone, nameservers, hostmaster, ttl, negative_ttl or ttl)
        new = zone not in self.held
        held = self.held.setdefault(zone, {})
        self.accounts[zone] = self.owner
        changed = held.get(soa.key) != soa or held.get(ns.key) != ns
        held[soa.key], held[ns.key] = soa, ns
        return Outcome.CREATED if new else Outcome.UPDATED if changed else Outcome.UNCHANGED

    def remove_zone(self, name: str) -> Outcome:
        zone = canonical_name(name, what="zone", wildcard=False)
        self.journal.record("zones.remove_zone", zone)
        if zone not in self.held:
            return Outcome.ABSENT
        self._foreign(zone)
        del self.held[zone], self.accounts[zone]
        return Outcome.DELETED

    def apply_rrsets(self, zone: str, changes: list[Change]) -> Outcome:
        zone = canonical_name(zone, what="zone", wildcard=False)
        self.journal.record("zones.apply_rrsets", zone)
        check_in_zone(zone, changes)
        held = self._own(zone)
        wanted = effective(held.values(), changes)
        for change in wanted:
            if isinstance(change, Delete):
                held.pop(change.key, None)
            else:
                held[change.key] = change.rrset
        return Outcome.UPDATED if wanted else Outcome.UNCHANGED

    def rrsets(self, zone: str) -> tuple[RRset, ...]:
        zone = canonical_name(zone, what="zone", wildcard=False)
        self.journal.record("zones.rrsets", zone)
        return tuple(sorted(self._own(zone).values()))

    def observe(self) -> dict[str, tuple[RRset, ...]]:
        self.journal.record("zones.observe", "*")
        return {
            zone: tuple(sorted(held.values()))
            for zone, held in sorted(self.held.items())
            if self.accounts[zone] == self.owner
        }

    def addresses(self, name: str) -> tuple[str, ...]:
        """What the deepest zone holding `name` answers for its A and AAAA."""
        held = [z for z in self.held if name == z or name.endswith("." + z)]
        if not held:
            return ()
        rrsets = self.held[max(held, key=len)]
        wildcard = "*." + name.split(".", 1)[-1]
        found = [rrsets.get((name, t)) or rrsets.get((wildcard, t)) for t in ("A", "AAAA")]
        return tuple(value for item in found if item is not None for value in item.contents)

    def export(self, zone: str) -> str:
        zone = canonical_name(zone, what="zone", wildcard=False)
        self.journal.record("zones.export", zone)
        return "".join(
            f"{item.name}\t{item.ttl}\tIN\t{item.type}\t{value}\n"
            for item in sorted(self._own(zone).values())
            for value in item.contents
        )

    def close(self) -> None:
        pass

    # What happens to PowerDNS behind the plane's back ------------------------------

    def by_hand(self, zone: str, item: RRset | None, key: tuple[str, str] | None = None) -> None:
        """Someone changed (`item`) or deleted (`key`) an RRset directly on PowerDNS."""
        held = self.held[zone]
        if item is not None:
            held[item.key] = item
        elif key is not None:
            held.pop(key, None)

    def plant(self, zone: str, account: str) -> None:
        """A zone made on PowerDNS by someone else (another plane: `account`), or by this
        plane with no row behind it (`account` its own)."""
        self.held[zone] = {}
        self.accounts[zone] = account


@dataclass
class FakeWorld:
    """The fakes behind one Services, and their journal."""

    journal: Journal
    runtime: FakeRuntime
    edge: FakeEdge
    databases: FakeDatabases
    installer: FakeInstaller
    dns: FakeDns
    acme: FakeAcme | None
    services: Services
    accounts: FakeAccounts
    sftp: FakeSftp
    zones: FakeZones
    tenant_databases: FakeTenantDatabases
    caches: FakeCaches

    def state(self) -> tuple[object, ...]:
        """What the fakes hold (compare it before and after)."""
        return (
            self.runtime.holds(),
            self.edge.state,
            dict(self.databases.databases),
            dict(self.databases.users),
            dict(self.installer.installed),
        )


class FakeSlicedEdge(FakeEdge):
    """The edge in memory, changed one route at a time as HAProxy in front is: a slice
    replaces its route and the certificates and challenges of the hosts it names."""

    def apply_slice(self, part: EdgeSlice) -> Outcome:
        self.journal.record("edge.apply_slice", part.route_id)
        now = self.state or EdgeState(())
        hosts = set(part.hosts)
        new = EdgeState(
            tuple(r for r in now.routes if r.route_id != part.route_id) + part.state.routes,
            tuple(c for c in now.certificates if c.host not in hosts) + part.state.certificates,
            tuple(c for c in now.challenges if c.host not in hosts) + part.state.challenges,
        )
        if as_sets(new) == as_sets(now):
            return Outcome.UNCHANGED
        self.state = new
        return Outcome.UPDATED


def as_sets(state: EdgeState | None) -> tuple[frozenset[object], ...]:
    """An edge state without its order (a sliced edge holds its entries in the order applied)."""
    state = state or EdgeState(())
    return frozenset(state.routes), frozenset(state.certificates), frozenset(state.challenges)


def fake_world(
    settings: Settings, store: Store, *, acme: bool = False, sliced: bool = False
) -> FakeWorld:
    """The composition root with every provider a fake (an ACME CA if asked; no tunnel; an
    edge changed one route at a time if asked)."""
    journal = Journal()
    runtime = FakeRuntime(journal)
    edge = (FakeSlicedEdge if sliced else FakeEdge)(journal, runtime)
    databases = FakeDatabases(journal)
    installer = FakeInstaller(journal, edge, databases)
    zones = FakeZones(journal)
    tenant_databases = FakeTenantDatabases(journal, databases)
    caches = FakeCaches(journal)
    dns = FakeDns(journal, zones)
    ca = FakeAcme(journal, edge) if acme else None
    accounts = FakeAccounts(journal)
    sftp = FakeSftp(journal)
    # Services names the real providers' classes (only the runtime has a Protocol): the
    # fakes have their methods, the ones the kinds' steps call.
    services = Services(
        settings=settings,
        store=store,
        edge=edge,
        runtimes={RuntimeKind.LOCAL: runtime},
        secrets=SecretBox(Fernet.generate_key()),
        databases=databases,
        installer=installer,
        dns=dns,
        dns_expectation=dns_expectation(settings),
        acme=ca,
        accounts=accounts,  # type: ignore[arg-type]
        sftp=sftp,  # type: ignore[arg-type]
        zones=zones,  # type: ignore[arg-type]
        tenant_databases=tenant_databases,  # type: ignore[arg-type]
        caches=caches,  # type: ignore[arg-type]
        cache_acl=caches,  # type: ignore[arg-type]
    )
    return FakeWorld(
        journal,
        runtime,
        edge,
        databases,
        installer,
        dns,
        ca,
        services,
        accounts,
        sftp,
        zones,
        tenant_databases,
        caches,
    )
