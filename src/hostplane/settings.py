"""One settings class, built at the entry points and passed down.

Values come from HOSTPLANE_* environment variables, then an optional TOML file
(HOSTPLANE_CONFIG or --config), then the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hostplane import settings_checks as checks
from hostplane.errors import ValidationError
from hostplane.tokens import check_token


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOSTPLANE_", extra="ignore")

    base_domain: str = "localhost"
    data_dir: Path = Path("/var/lib/hostplane")
    database_url: str | None = None
    workflow_database_url: str | None = None
    listen: str = "127.0.0.1:8090"
    api_url: str | None = None
    api_token: SecretStr | None = None
    api_tokens: str | None = None

    # Where sites' files and sockets live: outside the data directory, which is the control
    # plane's alone (0700), so that sites' users and the edge reach them whatever its mode.
    sites_dir: Path = Path("/srv/hostplane/sites")  # webroots
    run_dir: Path = Path("/run/hostplane")  # sockets: PHP-FPM pools, Docker sites, the edge's admin
    edge_dir: Path = Path("/var/lib/hostplane-edge")  # the managed Caddy's own state (its user's)
    dns_dir: Path = Path("/var/lib/hostplane-dns")  # the managed PowerDNS's own (its user reads)
    # Tenants' homes (each the tenant's SFTP chroot: this path and its parents must be root's
    # and writable by no one else, OpenSSH's rule).
    homes_dir: Path = Path("/srv/hostplane/tenants")
    # The SFTP server Hostplane runs (OpenSSH's sshd, its config generated from the database,
    # kept with its host keys in sftp_dir): on sftp_bind:sftp_port; 0: none is run.
    sftp_port: int = Field(default=2222, ge=0, le=65535)
    sftp_bind: str = "127.0.0.1"
    sftp_dir: Path = Path("/var/lib/hostplane-sftp")
    sshd_binary: str = "/usr/sbin/sshd"
    # Tenants' caches: a redis-server each, its config and data in caches_dir (outside the
    # data dir: each instance's user reads its own config there), its socket in the tenant's
    # home; a cache's memory_mb is at most cache_max_memory_mb.
    caches_dir: Path = Path("/var/lib/hostplane-caches")
    redis_binary: str = "redis-server"
    cache_max_memory_mb: int = Field(default=1024, ge=4, le=1 << 20)
    # The loopback ports a cache asked with `"tcp": true` gets one of (127.0.0.1 only).
    cache_ports: str = "16400-16999"

    edge: Literal["caddy"] = "caddy"
    edge_http_port: int = Field(default=80, ge=1, le=65535)
    edge_bind: str = ""
    # An operator's own Caddy: http://host:port or unix:///path/to/admin.sock. Unset: the
    # control plane runs Caddy itself, as edge_user, with its admin API on a private socket.
    caddy_admin_url: str | None = None
    caddy_admin_listen: str | None = None  # gone: refused with a message saying why
    # What answers on the edge's ports: caddy (the managed Caddy itself, its whole config
    # loaded on every change), or haproxy (issue 14: a managed HAProxy in front, every site
    # in its host map changed at runtime, the managed Caddy behind it on a unix socket).
    # auto (the default): haproxy when the plane manages its Caddy, caddy in front of an
    # operator's own (caddy_admin_url), which HAProxy cannot front. Resolved when validated:
    # every reader sees caddy or haproxy.
    edge_front: Literal["auto", "caddy", "haproxy"] = Field(default="auto", validate_default=True)
    haproxy_binary: str = "haproxy"
    caddy_binary: str = "caddy"
    edge_user: str = "caddy"  # the managed Caddy runs as this user (created if missing)
    # Stop the managed Caddy when the control plane exits (`hostctl up --stop-edge`); by
    # default it keeps serving and the next start adopts it.
    edge_stop_on_exit: bool = False
    edge_confirm_timeout: float = 10.0

    runtime: Literal["local", "docker"] = "local"

    # Per-site databases (MariaDB): the account that creates them. None: Hostplane makes its
    # own account (hostplane_<plane id>) on first use, as root through site_db_socket (root
    # over TCP to 127.0.0.1:site_db_port only if the socket refuses it), and keeps its
    # password sealed in the state database (providers/mariadb/admin.py).
    site_db_url: str | None = None
    site_db_socket: str = "/run/mysqld/mysqld.sock"
    site_db_port: int = Field(default=3306, ge=1, le=65535)
    # Encrypts stored secrets; generated into the data directory when unset.
    secret_key: SecretStr | None = None

    # Local runtime: PHP-FPM master per site, WordPress copied from Debian's package.
    php_fpm_binary: str = "php-fpm8.2"
    wordpress_source: Path = Path("/usr/share/wordpress")
    php_max_children: int = Field(default=5, ge=1, le=200)

    # Custom domains: where their DNS must point, and whom to ask.
    public_ips: str = ""  # comma-separated addresses of the platform's edge
    dns_mode: Literal["ips", "cloudflare"] = "ips"
    dns_resolvers: str = ""  # comma-separated ip or ip:port; the system's when empty
    dns_allow_private: bool = False
    # While DNS is not yet right a new domain is checked again after 5 s, then 10 s, 20 s, ...
    # (at most domain_recheck_max apart) until domain_dns_timeout has passed: then FAILED.
    domain_recheck_initial: float = Field(default=5.0, gt=0, le=3600)
    domain_recheck_max: float = Field(default=300.0, gt=0, le=86400)
    domain_dns_timeout: float = Field(default=3600.0, ge=0, le=30 * 86400)

    # HTTPS at the edge with certificates from an ACME CA (disabled when the port is 0).
    edge_https_port: int = Field(default=443, ge=0, le=65535)
    acme_directory: str | None = None  # e.g. https://acme-v02.api.letsencrypt.org/directory
    acme_ca_bundle: Path | None = None  # trust for the ACME server's own HTTPS (Pebble's CA)
    acme_email: str | None = None
    acme_timeout: float = Field(default=90.0, gt=0, le=3600)
    cert_renew_before_days: float = Field(default=30.0, ge=0, le=3650)
    cert_renew_schedule: str = "17 * * * *"  # cron: when due certificates are renewed

    # Cloudflare tunnel: ingress rules for custom domains, and their DNS routes.
    tunnel_id: str | None = None
    tunnel_config: Path | None = None  # the ingress file cloudflared reads
    tunnel_credentials_file: Path | None = None
    tunnel_restart_command: str | None = None  # default: systemctl restart cloudflared
    cloudflared_binary: str = "cloudflared"
    cloudflare_api_token: SecretStr | None = None
    cloudflare_api_url: str | None = None  # the API's base URL; Cloudflare's own when unset

    # DNS hosting on PowerDNS. With pdns_api_url unset the worker runs its own pdns_server
    # (gsqlite3 in <data dir>/powerdns, its API on pdns_api_listen, loopback only, with a key
    # generated into <data dir>/powerdns/api-key; DNS on dns_bind:dns_port).
    # pdns_api_url and pdns_api_key: an existing server instead (then nothing is started).
    dns_port: int = Field(default=53, ge=1, le=65535)
    dns_bind: str = "127.0.0.1"  # comma-separated addresses DNS is answered on
    pdns_api_url: str | None = None  # e.g. http://127.0.0.1:8081
    pdns_api_key: SecretStr | None = Field(default=None, validate_default=True)
    pdns_api_listen: str = "127.0.0.1:8081"
    pdns_binary: str = "pdns_server"
    # Every hosted zone's NS and SOA: comma-separated name server FQDNs (ns1.<base domain> when
    # empty; the first is the SOA's primary) and the hostmaster's address (hostmaster@<base
    # domain> when empty); the TTL of records, SOA and NS, and of negative answers.
    dns_nameservers: str = ""
    dns_hostmaster: str = ""
    dns_default_ttl: int = Field(default=3600, ge=1, le=2**31 - 1)
    dns_negative_ttl: int = Field(default=300, ge=1, le=86400)

    # Docker runtime.
    docker_host: str | None = None
    docker_tls_dir: str | None = None
    php_image: str = "hostplane/php-fpm:8.2"
    nginx_image: str = "hostplane/nginx:1.22"
    container_memory: str = "256m"
    container_cpus: float = Field(default=1.0, gt=0, le=64)

    # The reconciler: every reconcile_interval seconds (0: only on demand); pruning orphans
    # automatically only when reconcile_prune is set (else `hostctl reconcile --prune`).
    reconcile_interval: int = Field(default=60, ge=0, le=86400)
    reconcile_prune: bool = False
    reconcile_keep_runs: int = Field(default=1000, ge=1)  # stored runs; older ones deleted

    # A worker's identity in the workflow database: every worker needs its own. A worker
    # silent for worker_dead_after seconds has its workflows taken over by another.
    executor_id: str = "local"
    worker_heartbeat_interval: float = Field(default=5.0, gt=0, le=300)
    worker_dead_after: float = Field(default=30.0, gt=0, le=3600)
    worker_concurrency: int = Field(default=8, ge=1)
    # How often a worker polls the queue for operations it did not submit itself (those of
    # API-only processes, or beyond its free slots); they wait half of this on average. Each
    # poll costs ~3 ms of CPU: at 0.02 s an idle worker burnt 14% of a core, at 0.2 s 1.8%.
    # Unset: 0.2 s for `hostctl worker`, whose whole work comes from the queue; 2 s for
    # `hostctl up`, which starts the operations of its own API at once (an idle plane's
    # CPU: each poll also reloads the queue's row).
    queue_poll_interval: float | None = Field(default=None, ge=0.005, le=10)
    failpoints: str | None = None  # fault injection for the test suite: see failpoints.py
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"

    @field_validator("reconcile_interval")
    @classmethod
    def _interval_fits_a_cron(cls, value: int) -> int:
        if value == 0 or value < 60 or value % 60 == 0:
            return value
        raise ValueError("use fewer than 60 seconds or a whole number of minutes")

    @field_validator("caddy_admin_listen")
    @classmethod
    def _admin_listen_is_gone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        raise ValueError(
            "the managed Caddy's admin API is now a private unix socket under "
            "HOSTPLANE_RUN_DIR (edge/admin.sock), never TCP: unset it (for a Caddy of your "
            "own, set HOSTPLANE_CADDY_ADMIN_URL)"
        )

    @field_validator("edge_front")
    @classmethod
    def _front_needs_the_managed_caddy(cls, value: str, info: ValidationInfo) -> str:
        # caddy_admin_url is declared (so validated) before edge_front. A URL that failed its
        # own validation is absent from info.data; that error is the one reported then.
        operators_caddy = info.data.get("caddy_admin_url") is not None
        if value == "auto":
            return "caddy" if operators_caddy else "haproxy"
        if value == "haproxy" and operators_caddy:
            raise ValueError(
                "haproxy runs in front of the Caddy this control plane manages, behind it on "
                "a socket of its own: unset HOSTPLANE_CADDY_ADMIN_URL, or use caddy"
            )
        return value

    @field_validator("caddy_admin_url")
    @classmethod
    def _admin_url_is_http_or_unix(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith(("http://", "https://", "unix:///")):
            return value
        raise ValueError(
            "use http://HOST:PORT or unix:///absolute/path/to/admin.sock for Caddy's admin API"
        )

    @field_validator(
        "sites_dir",
        "run_dir",
        "edge_dir",
        "dns_dir",
        "data_dir",
        "homes_dir",
        "sftp_dir",
        "caches_dir",
    )
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError(f"use an absolute path, not {str(value)!r}")
        return value

    @field_validator("base_domain")
    @classmethod
    def _base_domain_is_a_name(cls, value: str) -> str:
        return checks.base_domain(value)

    @field_validator("dns_bind")
    @classmethod
    def _dns_bind_is_addresses(cls, value: str) -> str:
        return checks.dns_bind(value)

    @field_validator("sftp_bind")
    @classmethod
    def _sftp_bind_is_an_address(cls, value: str) -> str:
        return checks.sftp_bind(value)

    @field_validator("cache_ports")
    @classmethod
    def _cache_ports_are_a_range(cls, value: str) -> str:
        return checks.port_range(value)

    @field_validator("pdns_api_listen")
    @classmethod
    def _pdns_api_on_loopback(cls, value: str) -> str:
        return checks.pdns_api_listen(value)

    @field_validator("pdns_api_url")
    @classmethod
    def _pdns_api_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().startswith(("http://", "https://")):
            raise ValueError("must be the server's API URL, e.g. http://127.0.0.1:8081")
        return value.strip().rstrip("/") if value else None

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers_are_names(cls, value: str) -> str:
        return checks.nameservers(value)

    @field_validator("dns_hostmaster")
    @classmethod
    def _hostmaster_is_an_address(cls, value: str) -> str:
        return checks.hostmaster(value)

    @field_validator("pdns_api_key")
    @classmethod
    def _pdns_key_with_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if (info.data.get("pdns_api_url") is None) != (value is None):
            raise ValueError(
                "HOSTPLANE_PDNS_API_URL and HOSTPLANE_PDNS_API_KEY go together: set both to "
                "use an existing PowerDNS, or neither to let Hostplane run its own"
            )
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty: give the api-key of the PowerDNS server")
        return value

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings: environment over the TOML file over defaults; overrides win."""
        path = config_file or _env_path("HOSTPLANE_CONFIG")
        from_file: dict[str, Any] = {}
        if path is not None:
            try:
                with path.open("rb") as fh:
                    raw = tomllib.load(fh)
            except FileNotFoundError as exc:
                raise ValidationError(f"config file {path} does not exist") from exc
            except tomllib.TOMLDecodeError as exc:
                raise ValidationError(f"config file {path} is not valid TOML: {exc}") from exc
            section = raw.get("hostplane", raw)
            from_file = {
                key: value
                for key, value in section.items()
                if f"HOSTPLANE_{key.upper()}" not in os.environ
            }
        return cls(**{**from_file, **overrides})

    # Derived values -----------------------------------------------------

    @property
    def state_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'state.sqlite3'}"

    @property
    def workflow_db_url(self) -> str:
        if self.workflow_database_url:
            return self.workflow_database_url
        state = self.state_database_url
        if state.startswith("sqlite"):
            return f"sqlite:///{self.data_dir / 'workflows.sqlite3'}"
        base, _, name = state.rpartition("/")
        name, sep, query = name.partition("?")
        return f"{base}/{name}_workflows{sep}{query}"

    @property
    def edge_state_dir(self) -> Path:
        """The control plane's own records about the edge (pid file, log, last config that
        loaded): private, like the rest of the data directory."""
        return self.data_dir / "edge"

    @property
    def caddy_admin_socket(self) -> Path:
        """The managed Caddy's admin API, in a directory only root and the edge user enter."""
        return self.run_dir / "edge" / "admin.sock"

    @property
    def haproxy_dir(self) -> Path:
        """The managed HAProxy's config, maps and certificates: root's (it reads them as root
        at start, before it drops to the edge user)."""
        return self.edge_state_dir / "haproxy"

    @property
    def haproxy_socket(self) -> Path:
        """The managed HAProxy's runtime API, beside Caddy's admin socket."""
        return self.run_dir / "edge" / "haproxy.sock"

    @property
    def caddy_behind_socket(self) -> Path:
        """Where Caddy behind HAProxy listens: in a directory only root and the edge user
        enter, so that only HAProxy reaches it (whoever does chooses the webroot)."""
        return self.run_dir / "edge" / "behind.sock"

    @property
    def fpm_config_dir(self) -> Path:
        """PHP-FPM masters' configs and logs: read by the masters, which run as root."""
        return self.data_dir / "php-fpm"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    def site_url(self, hostname: str) -> str:
        """Where a site is reached through the edge (WordPress stores it as its home)."""
        port = "" if self.edge_http_port == 80 else f":{self.edge_http_port}"
        return f"http://{hostname}{port}"

    @property
    def token_file(self) -> Path:
        return self.data_dir / "api-token"

    @property
    def client_api_url(self) -> str:
        return (self.api_url or f"http://{self.listen}").rstrip("/")

    @property
    def managed_caddy(self) -> bool:
        return self.caddy_admin_url is None

    @property
    def caddy_admin(self) -> str:
        """Where Caddy's admin API is: http(s)://… or unix:///… (the managed Caddy's socket)."""
        return (self.caddy_admin_url or f"unix://{self.caddy_admin_socket}").rstrip("/")

    @property
    def managed_powerdns(self) -> bool:
        return self.pdns_api_url is None

    @property
    def pdns_api(self) -> str:
        """The PowerDNS API's base URL: the configured server's or Hostplane's own."""
        return self.pdns_api_url or f"http://{self.pdns_api_listen}"

    @property
    def pdns_dir(self) -> Path:
        """Outside the private data directory: PowerDNS runs as its own user and must reach
        its database (the API key in it stays root's, 0600)."""
        return self.dns_dir

    @property
    def dns_bind_addresses(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.dns_bind.split(","))

    @property
    def zone_nameservers(self) -> tuple[str, ...]:
        """Every hosted zone's NS (the first is the SOA's primary), absolute."""
        if self.dns_nameservers:
            return tuple(self.dns_nameservers.split(","))
        return (f"ns1.{self.base_domain}.",)

    @property
    def zone_hostmaster(self) -> str:
        """The SOA's mailbox as a name: hostmaster@example.com is hostmaster.example.com."""
        address = self.dns_hostmaster or f"hostmaster@{self.base_domain}"
        local, _, domain = address.partition("@")
        return f"{local}.{domain}."

    def configured_tokens(self) -> list[str]:
        """Tokens from HOSTPLANE_API_TOKENS (comma-separated); each checked, none may be empty."""
        if self.api_tokens is None:
            return []
        tokens = [tok.strip() for tok in self.api_tokens.split(",")]
        for token in tokens:
            check_token(token)
        return tokens


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
