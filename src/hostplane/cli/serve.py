"""Run the control plane: API, worker and supervised edge (Caddy, and HAProxy in front of it
with HOSTPLANE_EDGE_FRONT=haproxy), in one process or apart."""

from __future__ import annotations

import gc
import signal
import threading

import structlog
from prometheus_client import REGISTRY

from hostplane import failpoints
from hostplane.api import server
from hostplane.api.app import create_app
from hostplane.api.auth import server_tokens
from hostplane.errors import ForeignResourceError
from hostplane.kernel import runtime
from hostplane.kernel.engine import WorkflowEngine
from hostplane.kernel.kind import Daemon, Registry
from hostplane.kernel.metrics import ResourceCollector
from hostplane.kernel.workers import WorkerHeartbeat
from hostplane.kinds.site.model import INSTALLER_PATHS
from hostplane.observability import configure_logging
from hostplane.providers.caddy.process import CaddyProcess, EdgeProcessConfig
from hostplane.providers.fs import private_dir
from hostplane.providers.haproxy.edge import HaproxyEdge
from hostplane.providers.haproxy.frontend import FrontendConfig
from hostplane.providers.haproxy.process import (
    FrontProcessConfig,
    HaproxyProcess,
    check_before_behind,
    end_left,
)
from hostplane.providers.powerdns.process import PdnsProcess
from hostplane.reconciler import run as reconcile_run
from hostplane.registry import registry
from hostplane.services import Services, build_services, front_layout, powerdns_process
from hostplane.settings import Settings

log = structlog.get_logger(__name__)


def serve(settings: Settings, *, api: bool, work: bool) -> None:
    configure_logging(settings.log_format, settings.log_level)
    private_dir(settings.data_dir)  # the state, keys and token: the control plane's alone
    tokens = server_tokens(settings, create=True)
    failpoints.configure(settings.failpoints, settings.data_dir)
    services = build_services(settings)
    kinds = registry()
    runtime.bind(kinds, services)
    REGISTRY.register(ResourceCollector(services.store, kinds))
    caddy: CaddyProcess | None = None
    front: HaproxyProcess | None = None
    pdns: PdnsProcess | None = None
    daemons: list[Daemon] = []
    engine = _engine(settings, services, kinds, work=work, api=api)
    heartbeat = _heartbeat(settings, services, engine) if work else None
    try:
        if work and settings.managed_caddy:
            edge_config = edge_process_config(settings)
            if settings.edge_front == "caddy":  # an HAProxy left from haproxy holds the ports
                end_left(front_layout(settings), settings.haproxy_binary)
            else:
                check_before_behind(
                    settings.haproxy_binary,
                    _edge_ports(settings),
                    (front_layout(settings).pid_file, CaddyProcess(edge_config).pid_file),
                )
            caddy = CaddyProcess(edge_config)
            caddy.start(on_restart=lambda: _on_start(services, kinds))
            if settings.edge_front == "haproxy":
                front = _start_front(settings, services, kinds)
        if work and settings.managed_powerdns:  # outlives the plane: stop() only detaches
            pdns = powerdns_process(settings)
            pdns.start()
        if heartbeat is not None:
            heartbeat.register()
        engine.launch()
        if heartbeat is not None:
            heartbeat.start()
        if work:
            _on_start(services, kinds)
            _settle_garbage()
            daemons = _start_daemons(services, kinds)
            engine.resubmit_lost()
        if api:
            _serve_api(settings, create_app(services, engine, tokens, kinds))
        else:
            _wait_for_signal()
    finally:
        log.info("control_plane.stopping")
        if heartbeat is not None:
            heartbeat.stop()
        engine.shutdown()
        _leave_edge(front, settings)
        _leave_edge(caddy, settings)
        if pdns is not None:
            pdns.stop()
        for daemon in daemons:  # they outlive the plane: only watching stops
            daemon.stop()
        services.close()


def _heartbeat(settings: Settings, services: Services, engine: WorkflowEngine) -> WorkerHeartbeat:
    """This worker's liveness in the workflow database; a dead one's workflows are recovered."""
    return WorkerHeartbeat(
        services.store,
        settings.executor_id,
        interval=settings.worker_heartbeat_interval,
        dead_after=settings.worker_dead_after,
        recover=engine.recover_executor,
    )


def _leave_edge(process: CaddyProcess | HaproxyProcess | None, settings: Settings) -> None:
    """The edge outlives the control plane (the next start adopts it) unless told otherwise."""
    if process is None:
        return
    if settings.edge_stop_on_exit:
        process.stop()
    else:
        process.detach()


def _start_front(settings: Settings, services: Services, kinds: Registry) -> HaproxyProcess:
    """Caddy moves behind first (it may still hold the edge's ports from when it was the
    edge), then HAProxy is adopted or started in front of it."""
    edge = services.edge
    assert isinstance(edge, HaproxyEdge), edge
    edge.ensure_behind()
    front = HaproxyProcess(front_process_config(settings, services))
    front.start(on_restart=lambda: _on_start(services, kinds))
    return front


def _edge_ports(settings: Settings) -> tuple[tuple[str, int, str], ...]:
    bind = settings.edge_bind
    ports = [(bind, settings.edge_http_port, "HOSTPLANE_EDGE_HTTP_PORT")]
    if settings.edge_https_port:
        ports.append((bind, settings.edge_https_port, "HOSTPLANE_EDGE_HTTPS_PORT"))
    return tuple(ports)


def front_process_config(settings: Settings, services: Services) -> FrontProcessConfig:
    """HAProxy on the edge's ports, Caddy behind on its socket; the installer paths of a
    guarded site answered 404 at the front unless the request carries the installer key."""
    layout = front_layout(settings)
    bind, https = settings.edge_bind, settings.edge_https_port
    frontend = FrontendConfig(
        admin_socket=layout.socket,
        map_path=layout.hosts_map,
        challenges_map=layout.challenges_map,
        http_listen=f"{bind}:{settings.edge_http_port}",
        https_listen=f"{bind}:{https}" if https else None,
        crt_list=layout.crt_list if https else None,
        behind=str(settings.caddy_behind_socket),
        not_found_file=layout.body("not-found"),
        maintenance_file=layout.body("maintenance"),
        suspended_file=layout.body("suspended"),
        denied_file=layout.body("denied"),
        denied_paths=INSTALLER_PATHS,
        installer_key=services.installer.installer_key,
    )
    return FrontProcessConfig(
        binary=settings.haproxy_binary,
        layout=layout,
        frontend=frontend,
        user=settings.edge_user,
        edge_dir=settings.edge_dir,
        ports=_edge_ports(settings),
    )


def edge_process_config(settings: Settings) -> EdgeProcessConfig:
    # Behind HAProxy, Caddy binds none of the edge's ports: its own socket only.
    ports = _edge_ports(settings) if settings.edge_front == "caddy" else ()
    return EdgeProcessConfig(
        binary=settings.caddy_binary,
        state_dir=settings.edge_state_dir,
        edge_dir=settings.edge_dir,
        admin_socket=settings.caddy_admin_socket,
        user=settings.edge_user,
        ports=ports,
    )


def _engine(
    settings: Settings, services: Services, registry: Registry, *, work: bool, api: bool
) -> WorkflowEngine:
    engine = WorkflowEngine(settings, services.store, registry, work=work, serves_api=api)
    engine.register(reconcile_run.KIND, reconcile_run.reconcile)
    if settings.reconcile_interval:
        engine.add_schedule(
            reconcile_run.SCHEDULE,
            reconcile_run.reconcile_on_schedule,
            reconcile_run.schedule_cron(settings.reconcile_interval),
        )
    return engine


def _on_start(services: Services, registry: Registry) -> None:
    """Every kind brings back what this host must run for it (processes, generated configs,
    the edge's config after the edge restarted); each is idempotent."""
    for kind in registry:
        if kind.on_start is None:
            continue
        try:
            kind.on_start(services)
        except Exception as exc:  # serve on: the reconciler tries again
            log.error("kind.start_failed", kind=kind.name, error=str(exc))


def _settle_garbage() -> None:
    """Keep what the start made (modules, the app, caches: some 240,000 objects) out of later
    collections: otherwise a full collection walks them all, about 120 ms on this machine,
    in the middle of whatever request it falls on (the first create after a start at 10,000
    sites took 220 ms instead of 60). Not collected first: that would cost the start those
    120 ms, and the start leaves almost no garbage (42 objects measured)."""
    gc.freeze()
    log.info("control_plane.garbage_settled", kept=gc.get_freeze_count())


def _start_daemons(services: Services, registry: Registry) -> list[Daemon]:
    """Every kind's supervised servers; one that cannot start is logged (the plane serves on)."""
    started = []
    for kind in registry:
        for daemon in kind.daemons(services):
            try:
                daemon.start()
                started.append(daemon)
            except ForeignResourceError:
                raise  # a stranger on its address: the start fails, naming it
            except Exception as exc:
                log.error("kind.daemon_failed", kind=kind.name, error=str(exc))
    return started


def _serve_api(settings: Settings, app: object) -> None:
    # uvicorn re-raises SIGTERM after its graceful stop; make that a clean exit so the
    # caller's `finally` stops the engine and leaves (or stops) the edge.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    host, _, port = settings.listen.rpartition(":")
    log.info("api.listening", url=f"http://{settings.listen}", data_dir=str(settings.data_dir))
    server.serve(app, host.strip("[]") or "127.0.0.1", int(port))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
