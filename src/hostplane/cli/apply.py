"""hostctl apply -f FILE: create or update what a YAML file describes, through the API.

The sections of the file are the kinds' (each kind's cli module lists its `APPLY_SECTIONS`,
found through the registry): this module reads the file (cli/seedfile.py checks it), asks the
API what exists, prints the plan (cli/declare.py makes it) and runs it in order, each change
awaited before the next.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from hostplane.cli.client import ApiClient, CliError, fail
from hostplane.cli.declare import Action, Item, Problem, Section, check_sections, plan
from hostplane.cli.follow import wait_quietly
from hostplane.cli.output import JsonOpt, client, print_json
from hostplane.registry import KINDS

HELP = "\n\n".join(
    (
        "Create or update what FILE describes: plans, tenants, their sites and domains.",
        "Idempotent: what already is as the file says is left alone, so applying the same "
        'file again changes nothing ("nothing to change"). Apply never deletes: what the file '
        "omits (a plan, a tenant, a site, a domain) stays as it is. A difference apply cannot "
        "make (a site's type, a site of another tenant) stops it before it changes anything.",
        "Changes run in order (plans, tenants, sites, domains), each awaited before the next "
        "(a site needs its tenant ACTIVE); a domain's addition is awaited until it is "
        "recorded, not until its DNS points here. The first change that fails stops the "
        "apply, non-zero.",
    )
)


def sections() -> list[Section]:
    """Every kind's sections, in the registry's order (parents first)."""
    found: list[Section] = []
    for package in KINDS:
        found += getattr(importlib.import_module(f"{package}.cli"), "APPLY_SECTIONS", ())
    check_sections(found)
    return found


class Reader:
    """GETs through the API, each path asked once; a 404 is None."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.cache: dict[str, Any] = {}

    def __call__(self, path: str) -> Any:
        if path not in self.cache:
            try:
                self.cache[path] = self.api.get(path)
            except CliError as exc:
                if exc.status != 404:
                    raise
                self.cache[path] = None
        return self.cache[path]


class ActionFailed(Exception):
    pass


def run_action(api: ApiClient, action: Action, wait: bool, timeout: float) -> dict[str, Any]:
    """Send the action's request and, for one that is followed, await its operation; its
    result, or ActionFailed saying why not."""
    try:
        answer = api.request(action.method, action.path, json=action.body)
        op = answer.get("operation") if isinstance(answer, dict) else None
        result: dict[str, Any] = {**action.as_json(), "operation": op["id"] if op else None}
        if op is None:
            return {**result, "result": "done"}
        if not (wait and action.follow):
            note = f": {action.note}" if action.note and wait else ""
            note = note if wait else " (not awaited: --no-wait)"
            return {**result, "result": f"accepted, operation {op['id']}{note}"}
        final = wait_quietly(api, op["id"], timeout)
        if final["status"] != "SUCCEEDED":
            raise ActionFailed(f"operation {op['id']} {final['status']}: {final['error']}")
        outcome = "done"
        if action.expect:
            path, status = action.expect
            view = api.get(path)
            if view["status"] != status:
                raise ActionFailed(f"{path} is {view['status']}, not {status}")
            outcome = status
        return {**result, "result": outcome}
    except CliError as exc:
        raise ActionFailed(str(exc)) from exc


def _problems(file: Path, problems: list[Problem]) -> None:
    """One line per problem, on stderr; exits non-zero."""
    lines = [f"{file}:{p.line}: {p.message}" for p in problems]
    for line in lines[:-1]:
        typer.echo("error: " + " ".join(line.split()), err=True)
    fail(lines[-1])


def apply(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Option("-f", "--file", help="the YAML file ('-' reads standard input)")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Await each change before the next (default). --no-wait only sends them: a "
            "change that needs an earlier one done (a site, its tenant ACTIVE) may be refused.",
        ),
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds each change is awaited at most.")] = 600.0,
    as_json: JsonOpt = False,
) -> None:
    text = _read(file)
    from hostplane.cli.seedfile import parse  # yaml loaded only here, not at every start

    known = sections()
    document = parse(text, known)
    if document.problems:
        _problems(file, document.problems)
    api = client(ctx)
    read = Reader(api)
    try:
        current: dict[Item, Any] = {i: i.section.observe(read, i) for i in document.items}
    except CliError as exc:
        fail(str(exc))
    actions, problems = plan(document.items, current, known)
    if problems:
        _problems(file, problems)
    if not actions:
        print_json({"changes": []}) if as_json else typer.echo("nothing to change")
        return
    if dry_run:
        _print_dry_run(actions, as_json)
        return
    _run_actions(api, file, actions, wait, timeout, as_json)


def _read(file: Path) -> str:
    """The file's text ('-': standard input's); exits non-zero if it cannot be read."""
    try:
        return typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}")


def _print_dry_run(actions: list[Action], as_json: bool) -> None:
    if as_json:
        print_json({"dry_run": True, "changes": [a.as_json() for a in actions]})
        return
    typer.echo(f"{len(actions)} to change (dry run: nothing changed):")
    for action in actions:
        typer.echo(f"  {action.summary}")


def _run_actions(
    api: ApiClient, file: Path, actions: list[Action], wait: bool, timeout: float, as_json: bool
) -> None:
    """Each action in order, awaited (unless not wait); the first that fails stops the rest."""
    done: list[dict[str, Any]] = []
    for action in actions:
        try:
            result = run_action(api, action, wait, timeout)
        except ActionFailed as exc:
            if as_json:
                print_json({"changes": [*done, {**action.as_json(), "error": str(exc)}]})
            fail(
                f"{file}:{action.line}: {action.summary} failed: {exc} "
                f"({len(done)} of {len(actions)} changes made before it)"
            )
        done.append(result)
        if not as_json:
            typer.echo(f"{action.summary}: {result['result']}")
    if as_json:
        print_json({"changes": done})
    else:
        typer.echo(f"{len(done)} changed")


def install(app: typer.Typer) -> None:
    app.command("apply", help=HELP)(apply)
