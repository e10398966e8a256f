"""The composition root: settings, the state store and the providers, built once at start-up
and handed to the kernel (kernel.runtime.bind) with the registry of kinds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hostplane.errors import HostplaneError, NotFoundError
from hostplane.kernel.store.db import create_engine, ensure_database_exists, migrate
from hostplane.kernel.store.uow import Plane, Store
from hostplane.providers.acme.issuer import AcmeIssuer
from hostplane.providers.caddy.edge import CaddyEdge, CaddyEdgeConfig
from hostplane.providers.cloudflared.ingress import IngressSettings
from hostplane.providers.cloudflared.tunnel import CloudflareDns, CloudflareTunnel, TunnelConfig
from hostplane.providers.dnscheck.resolver import DnsChecker, cloudflare_ranges, parse_resolvers
from hostplane.providers.dnscheck.verdict import DnsExpectation, DnsMode, parse_ips
from hostplane.providers.docker.runtime import DockerRuntime, DockerRuntimeConfig
from hostplane.providers.edge import Edge
from hostplane.providers.haproxy.certs import RuntimeCertificates
from hostplane.providers.haproxy.edge import HaproxyEdge
from hostplane.providers.haproxy.layout import FrontLayout
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.local.accounts import TenantAccounts
from hostplane.providers.local.fpm import PhpFpmPools
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.providers.local.users import Owner
from hostplane.providers.mariadb.admin import ADMIN_SECRET, AdminAccount, Bootstrap
from hostplane.providers.mariadb.connection import Server
from hostplane.providers.mariadb.provider import MariaDBProvider
from hostplane.providers.mariadb.tenant_dbs import TenantDatabases
from hostplane.providers.openssh.server import SftpConfig, SftpServer
from hostplane.providers.powerdns import files as pdns_files
from hostplane.providers.powerdns.api import PowerDnsApi
from hostplane.providers.powerdns.content import Soa
from hostplane.providers.powerdns.process import PdnsProcess
from hostplane.providers.powerdns.rrsets import SOA_EXPIRE, SOA_REFRESH, SOA_RETRY
from hostplane.providers.redis.acl import RedisAcl
from hostplane.providers.redis.instances import RedisInstances
from hostplane.providers.runtime import RuntimeKind, SiteRuntime, runtime_kind
from hostplane.providers.wordpress import WordPressInstaller
from hostplane.secretbox import SecretBox, load_secret_box
from hostplane.settings import Settings

INSTALLER_PURPOSE = "wordpress-installer"
# Where a cache instance's admin password is sealed: (owner kind, name); owner id: the instance.
CACHE_ADMIN_SECRET = ("cache-instance", "admin-password")


@dataclass
class Services:
    settings: Settings
    store: Store
    edge: Edge  # CaddyEdge, or HaproxyEdge with HOSTPLANE_EDGE_FRONT=haproxy
    runtimes: dict[RuntimeKind, SiteRuntime]
    secrets: SecretBox
    databases: MariaDBProvider
    installer: WordPressInstaller
    dns: DnsChecker
    dns_expectation: DnsExpectation
    acme: AcmeIssuer | None = None
    tunnel: CloudflareTunnel | None = None
    zones: PowerDnsApi | None = None  # DNS hosting; None only in test worlds without it
    accounts: TenantAccounts | None = None  # tenants' users and homes on this host
    sftp: SftpServer | None = None  # the tenants' SFTP server (None: HOSTPLANE_SFTP_PORT=0)
    # Tenants' databases and users: the site database server, through the same account.
    tenant_databases: TenantDatabases | None = None
    # Tenants' caches: their Redis instances (supervised) and the instances' ACL users.
    caches: RedisInstances | None = None
    cache_acl: RedisAcl | None = None
    edge_lock: threading.Lock = field(default_factory=threading.Lock)

    def runtime(self, kind: str) -> SiteRuntime:
        try:
            return self.runtimes[runtime_kind(kind)]
        except (KeyError, ValueError) as exc:
            raise HostplaneError(
                f"runtime {kind!r} is not configured on this control plane"
            ) from exc

    @property
    def plane_id(self) -> str:
        """This control plane's identity: the mark on every external resource it creates."""
        return self.store.plane_id()

    def close(self) -> None:
        self.edge.close()
        if self.zones is not None:
            self.zones.close()
        self.store.dispose()


def open_store(settings: Settings) -> Store:
    ensure_database_exists(settings.state_database_url)
    engine = create_engine(settings.state_database_url)
    migrate(engine)
    return Store(engine)


def edge_url(settings: Settings) -> str:
    """Where this host reaches the edge's HTTP server."""
    return f"http://{settings.edge_bind or '127.0.0.1'}:{settings.edge_http_port}"


def caddy_edge(settings: Settings) -> CaddyEdge:
    port, bind, https = settings.edge_http_port, settings.edge_bind, settings.edge_https_port
    return CaddyEdge(
        CaddyEdgeConfig(
            admin_url=settings.caddy_admin,
            http_listen=f"{bind}:{port}",
            confirm_url=edge_url(settings),
            state_dir=settings.edge_state_dir,
            confirm_timeout=settings.edge_confirm_timeout,
            https_listen=f"{bind}:{https}" if https else None,
            https_confirm=(bind or "127.0.0.1", https) if https else None,
        )
    )


def front_layout(settings: Settings) -> FrontLayout:
    return FrontLayout(settings.haproxy_dir, settings.haproxy_socket)


def haproxy_edge(settings: Settings) -> HaproxyEdge:
    """HAProxy in front (its maps and certificates changed at runtime), the managed Caddy
    behind it on a unix socket; confirmations through HAProxy's ports, as a visitor's."""
    layout = front_layout(settings)
    hosts = RuntimeHostMap(layout.socket, layout.hosts_map)
    return HaproxyEdge(
        caddy_edge(settings),
        f"unix/{settings.caddy_behind_socket}",
        hosts,
        RuntimeHostMap(layout.socket, layout.challenges_map),
        (
            RuntimeCertificates(hosts, layout.cert_dir, layout.crt_list)
            if settings.edge_https_port
            else None
        ),
    )


def edge_provider(settings: Settings) -> Edge:
    return haproxy_edge(settings) if settings.edge_front == "haproxy" else caddy_edge(settings)


def build_services(settings: Settings, store: Store | None = None) -> Services:
    store = store or open_store(settings)
    plane = store.plane()
    pools = PhpFpmPools(
        settings.php_fpm_binary,
        run_dir=settings.run_dir / "php-fpm",
        config_dir=settings.fpm_config_dir,
        max_children=settings.php_max_children,
        edge_user=settings.edge_user,
    )
    secrets = load_secret_box(settings)
    databases = site_databases(settings, store, secrets)
    docker_runtime = DockerRuntime(docker_runtime_config(settings, databases.socket_path, plane))
    owner = Owner(plane.id, plane.predates_marks)
    accounts = TenantAccounts(settings.homes_dir, owner)
    runtimes: dict[RuntimeKind, SiteRuntime] = {
        RuntimeKind.LOCAL: LocalRuntime(
            settings.sites_dir, pools, settings.wordpress_source, owner, accounts
        ),
        RuntimeKind.DOCKER: docker_runtime,
    }
    key = secrets.derive(INSTALLER_PURPOSE)
    caches = RedisInstances(
        settings.caches_dir,
        plane.id,
        CacheAdminPasswords(store, secrets),
        binary=settings.redis_binary,
    )
    return Services(
        settings=settings,
        store=store,
        edge=edge_provider(settings),
        runtimes=runtimes,
        secrets=secrets,
        databases=databases,
        installer=WordPressInstaller(edge_url(settings), installer_key=key),
        dns=DnsChecker(parse_resolvers(settings.dns_resolvers)),
        dns_expectation=dns_expectation(settings),
        acme=acme_issuer(settings),
        tunnel=cloudflare_tunnel(settings, edge_url(settings)),
        zones=powerdns_api(settings, plane.id),
        accounts=accounts,
        sftp=sftp_server(settings),
        tenant_databases=TenantDatabases.sharing(databases),
        caches=caches,
        cache_acl=RedisAcl(caches),
    )


def sftp_server(settings: Settings) -> SftpServer | None:
    if not settings.sftp_port:
        return None
    return SftpServer(
        SftpConfig(
            root=settings.sftp_dir,
            bind=settings.sftp_bind,
            port=settings.sftp_port,
            binary=settings.sshd_binary,
        )
    )


@dataclass(frozen=True, slots=True)
class PlaneSecret:
    """A secret of this control plane, sealed in the state database (admin.SecretSlot)."""

    store: Store
    box: SecretBox
    plane_id: str
    name: str
    owner_kind: str = "plane"

    def read(self) -> str | None:
        with self.store.unit_of_work() as uow:
            sealed = uow.secrets.get(self.owner_kind, self.plane_id, self.name)
        return self.box.open(sealed) if sealed is not None else None

    def write_new(self, value: str) -> None:
        """ConflictError (from the commit) when one is stored already: never overwritten."""
        with self.store.unit_of_work() as uow:
            uow.secrets.add(self.owner_kind, self.plane_id, self.name, self.box.seal(value))


@dataclass(frozen=True, slots=True)
class CacheAdminPasswords:
    """The admin password of a cache instance, by its name: made and sealed with the cache's
    row (CACHE_ADMIN_SECRET), opened here when the provider starts or reaches the instance."""

    store: Store
    box: SecretBox

    def __call__(self, instance: str) -> str:
        owner_kind, name = CACHE_ADMIN_SECRET
        with self.store.unit_of_work() as uow:
            sealed = uow.secrets.get(owner_kind, instance, name)
        if sealed is None:
            raise NotFoundError(f"cache instance {instance} has no admin password in the store")
        return self.box.open(sealed)


def site_databases(settings: Settings, store: Store, secrets: SecretBox) -> MariaDBProvider:
    """The site database provider, marked with this plane's id: on the account
    HOSTPLANE_SITE_DB_URL names, else on Hostplane's own (made on first use)."""
    plane = store.plane()
    server: str | Server = settings.site_db_url or AdminAccount(
        plane.id,
        PlaneSecret(store, secrets, plane.id, ADMIN_SECRET),
        Bootstrap(socket=settings.site_db_socket, tcp_port=settings.site_db_port),
    )
    return MariaDBProvider(server, owner=plane.id, adopt_unmarked=plane.predates_marks)


def docker_runtime_config(
    settings: Settings, db_socket: Callable[[], str] | None, plane: Plane | None = None
) -> DockerRuntimeConfig:
    """The runtime of `plane` (its id on everything it creates; its store's pre-plane-id
    objects its own when the store predates plane ids). Without a plane: a runtime that only
    looks at the engine (`hostctl doctor`) and creates, changes and removes nothing."""
    return DockerRuntimeConfig(
        docker_host=settings.docker_host,
        tls_dir=settings.docker_tls_dir,
        php_image=settings.php_image,
        nginx_image=settings.nginx_image,
        memory=settings.container_memory,
        cpus=settings.container_cpus,
        run_dir=settings.run_dir / "docker",
        owner=plane.id if plane is not None else "",
        db_socket=db_socket,
        adopt_unmarked=plane is not None and plane.predates_marks,
    )


def powerdns_api(settings: Settings, owner: str) -> PowerDnsApi:
    """The DNS zones provider, as `owner`: on HOSTPLANE_PDNS_API_URL, else on Hostplane's own
    PowerDNS (its key generated on first use into <data dir>/powerdns/api-key, 0600)."""
    key = settings.pdns_api_key
    secret = key.get_secret_value() if key is not None else pdns_files.api_key(settings.pdns_dir)
    return PowerDnsApi(settings.pdns_api, secret, owner=owner)


def powerdns_process(settings: Settings) -> PdnsProcess:
    """The pdns_server a worker runs when no PowerDNS is configured."""
    host, _, port = settings.pdns_api_listen.rpartition(":")
    soa = Soa(
        settings.zone_nameservers[0],
        settings.zone_hostmaster,
        0,
        SOA_REFRESH,
        SOA_RETRY,
        SOA_EXPIRE,
        settings.dns_negative_ttl,
    )
    config = pdns_files.PdnsConfig(
        root=settings.pdns_dir,
        dns_addresses=settings.dns_bind_addresses,
        dns_port=settings.dns_port,
        api_host=host.strip("[]"),
        api_port=int(port),
        default_soa=soa.content,
        binary=settings.pdns_binary,
    )
    return PdnsProcess(config)


def acme_issuer(settings: Settings) -> AcmeIssuer | None:
    if not settings.acme_directory:
        return None
    if not settings.edge_https_port:
        raise HostplaneError(
            "HOSTPLANE_ACME_DIRECTORY is set but HTTPS is disabled (HOSTPLANE_EDGE_HTTPS_PORT=0)"
        )
    return AcmeIssuer(
        settings.acme_directory,
        ca_bundle=settings.acme_ca_bundle,
        email=settings.acme_email,
        timeout=settings.acme_timeout,
    )


def cloudflare_tunnel(settings: Settings, edge_url: str) -> CloudflareTunnel | None:
    if not settings.tunnel_id:
        return None
    config_path = settings.tunnel_config or settings.data_dir / "cloudflared" / "config.yml"
    credentials = settings.tunnel_credentials_file or Path(
        f"/etc/cloudflared/{settings.tunnel_id}.json"
    )
    token = settings.cloudflare_api_token
    return CloudflareTunnel(
        TunnelConfig(
            ingress=IngressSettings(settings.tunnel_id, str(credentials), edge_url),
            config_path=config_path,
            cloudflared_binary=settings.cloudflared_binary,
            restart_command=settings.tunnel_restart_command,
        ),
        CloudflareDns(token.get_secret_value(), settings.tunnel_id, settings.cloudflare_api_url)
        if token
        else None,
    )


def dns_expectation(settings: Settings) -> DnsExpectation:
    mode = DnsMode(settings.dns_mode)
    try:
        ips = parse_ips(settings.public_ips.split(","))
    except ValueError as exc:
        raise HostplaneError(f"HOSTPLANE_PUBLIC_IPS is not a list of addresses: {exc}") from exc
    return DnsExpectation(
        mode=mode,
        public_ips=ips,
        cloudflare_ranges=(
            cloudflare_ranges(settings.data_dir) if mode is DnsMode.CLOUDFLARE else ()
        ),
        allow_private=settings.dns_allow_private,
    )
