"""Run the control plane: API, worker and supervised Caddy, in one process or apart."""

from __future__ import annotations

import signal
import threading

import structlog
import uvicorn

from hostplane import failpoints
from hostplane.api.app import create_app
from hostplane.api.auth import server_tokens
from hostplane.observability import configure_logging
from hostplane.providers.caddy.process import CaddyProcess, EdgeProcessConfig
from hostplane.providers.fs import private_dir
from hostplane.reconciler import run as reconcile_run
from hostplane.settings import Settings
from hostplane.workflows.domain_steps import tunnel_hostnames
from hostplane.workflows.edge import regenerate_edge
from hostplane.workflows.engine import WorkflowEngine
from hostplane.workflows.restore import restore_site_processes
from hostplane.workflows.services import Services, bind, build_services
from hostplane.workflows.workers import WorkerHeartbeat

log = structlog.get_logger(__name__)


def serve(settings: Settings, *, api: bool, work: bool) -> None:
    configure_logging(settings.log_format, settings.log_level)
    private_dir(settings.data_dir)  # the state, keys and token: the control plane's alone
    tokens = server_tokens(settings, create=True)
    failpoints.configure(settings.failpoints, settings.data_dir)
    services = build_services(settings)
    bind(services)
    caddy: CaddyProcess | None = None
    engine = WorkflowEngine(settings, services, work=work)
    engine.register(reconcile_run.KIND, reconcile_run.reconcile)
    heartbeat = (
        WorkerHeartbeat(
            services.store,
            settings.executor_id,
            interval=settings.worker_heartbeat_interval,
            dead_after=settings.worker_dead_after,
            recover=engine.recover_executor,
        )
        if work
        else None
    )
    if settings.reconcile_interval:
        engine.add_schedule(
            reconcile_run.SCHEDULE,
            reconcile_run.reconcile_on_schedule,
            reconcile_run.schedule_cron(settings.reconcile_interval),
        )
    try:
        if work and settings.managed_caddy:
            caddy = CaddyProcess(edge_process_config(settings))
            caddy.start(on_restart=lambda: _regenerate(services))
        if heartbeat is not None:
            heartbeat.register()
        engine.launch()
        if heartbeat is not None:
            heartbeat.start()
        if work:
            restore_site_processes(services)
            _regenerate(services)
            _regenerate_tunnel(services)
            engine.resubmit_lost()
        if api:
            # uvicorn re-raises SIGTERM after its graceful stop; make that a clean exit so
            # the `finally` below stops the engine and Caddy.
            signal.signal(signal.SIGTERM, _exit_cleanly)
            host, _, port = settings.listen.rpartition(":")
            log.info(
                "api.listening", url=f"http://{settings.listen}", data_dir=str(settings.data_dir)
            )
            uvicorn.run(
                create_app(services, engine, tokens),
                host=host.strip("[]") or "127.0.0.1",
                port=int(port),
                log_level="warning",
                access_log=False,
            )
        else:
            _wait_for_signal()
    finally:
        log.info("control_plane.stopping")
        if heartbeat is not None:
            heartbeat.stop()
        engine.shutdown()
        _leave_edge(caddy, settings)
        services.close()


def _leave_edge(caddy: CaddyProcess | None, settings: Settings) -> None:
    """The edge outlives the control plane (the next start adopts it) unless told otherwise."""
    if caddy is None:
        return
    if settings.edge_stop_on_exit:
        caddy.stop()
    else:
        caddy.detach()


def edge_process_config(settings: Settings) -> EdgeProcessConfig:
    bind = settings.edge_bind
    ports = [(bind, settings.edge_http_port, "HOSTPLANE_EDGE_HTTP_PORT")]
    if settings.edge_https_port:
        ports.append((bind, settings.edge_https_port, "HOSTPLANE_EDGE_HTTPS_PORT"))
    return EdgeProcessConfig(
        binary=settings.caddy_binary,
        state_dir=settings.edge_state_dir,
        edge_dir=settings.edge_dir,
        admin_socket=settings.caddy_admin_socket,
        user=settings.edge_user,
        ports=tuple(ports),
    )


def _regenerate(services: object) -> None:
    from hostplane.workflows.services import Services

    assert isinstance(services, Services)
    try:
        regenerate_edge(services)
    except Exception as exc:
        log.error("edge.regenerate_failed", error=str(exc))


def _regenerate_tunnel(services: Services) -> None:
    """Generated configs are current from the start: the tunnel's ingress file too."""
    if services.tunnel is None:
        return
    try:
        services.tunnel.apply(tunnel_hostnames(services))
    except Exception as exc:
        log.error("tunnel.regenerate_failed", error=str(exc))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
