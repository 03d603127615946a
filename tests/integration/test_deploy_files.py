"""The shipped deployment files, tried as an operator would — as far as this machine allows.

There is no Docker engine and no systemd here, so neither file is run under them. This test
reads ``deploy/docker-compose.yml``, ``deploy/Dockerfile``, ``deploy/systemd/*.service``
and the steps of ``docs/deployment.md`` (the ``deploy/.env`` it has the operator write,
``cp config.example.toml deploy/config.toml``, the ``docker compose run`` and
``systemctl`` lines), and:

* checks them against the code: every command line parses with binhyen's own argument
  parser and names the documented roles; the database URL names the ``db`` service's
  user, password and database; the web port is the one the health check and the proxy
  use; the data folder is a writable volume (compose) or a ``ReadWritePaths`` (systemd);
  every ``${VAR}`` is in the documented ``.env``;
* runs the compose topology as real processes (``python -m bot`` + the image's
  ENTRYPOINT arguments + the service's ``command``, with the image's ENV, the ``.env`` and
  the service's ``environment``): the ``migrate`` job exits 0 before anything else
  starts; then ``web``, ``worker`` × replicas and ``scheduler`` × replicas side by side,
  with the documented ``docker compose run --rm web areas import …`` meanwhile. Each
  process answers the compose health check, ``/readyz`` of the web process answers 200,
  a Telegram update posted to its webhook is answered through the fake, an urgent notice
  to a few residents (stored as ``binhyen broadcast create --urgent`` stores it) is
  started by the scheduler and reaches each resident exactly once, sent by the workers;
  exactly one scheduler leads and both workers share the limits (``/metrics``); SIGTERM
  stops every process with status 0.

What stands in for the containers: the ``db`` service is a fresh PostgreSQL database on
the local server (its URL replaces the compose one once the latter is checked), volumes
are folders under the test's tmp_path, every process gets its own port on 127.0.0.1
(each container has its own 8080 and listens on 0.0.0.0), Telegram is the fake server
(``[telegram] api_url``/``file_url``), and secrets are generated. Caddy is not run.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy import select

from bot.cli.main import build_parser
from bot.config import Config, build_config
from broadcasts import compose as broadcasts
from storage.crypto import generate_key
from storage.db import Database, make_engine
from storage.repos import areas, people
from storage.tables import Delivery
from tests.support.databases import fresh_pg_database, require_pg
from tests.support.fake_telegram_process import FakeProcess
from tests.support.processes import (
    ROOT,
    TOKEN,
    BotProcess,
    bot_command,
    close_all,
    metric,
)

DEPLOY = ROOT / "deploy"
DOCS = ROOT / "docs" / "deployment.md"
EXAMPLE = ROOT / "config.example.toml"
ROLES = {"web", "worker", "scheduler"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
# Test values for the "…" placeholders of the documented deploy/.env (a documented
# ``python3 -c "…"`` next to one is run instead).
GENERATED = {
    "POSTGRES_PASSWORD": lambda: secrets.token_hex(16),
    "BINHYEN_TELEGRAM__TOKEN": lambda: TOKEN,
    "BINHYEN_TELEGRAM__WEBHOOK_SECRET": lambda: secrets.token_urlsafe(24),
    "BINHYEN_WEB__SESSION_SECRET": lambda: secrets.token_urlsafe(32),
}
RESIDENTS = 6
FIRST_RESIDENT = 7_300_001
COMMUNE = "20242"  # Phường Hải Châu, in the province the docs import (48)


# --- reading the files --------------------------------------------------------------------

def env_lines(text: str) -> dict[str, str]:
    """KEY=value lines (a compose .env, a unit's Environment=); `` # …`` after a value is a
    comment, as in a compose .env."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=value: {line!r}"
        out[key.strip()] = re.split(r"\s+#", value, maxsplit=1)[0].strip()
    return out


def docs_block(pattern: str) -> str:
    text = DOCS.read_text("utf-8")
    found = re.search(pattern, text, re.S)
    assert found, f"docs/deployment.md has no {pattern!r}"
    return found.group(1)


def documented_dotenv() -> dict[str, str]:
    """deploy/.env as docs/deployment.md has the operator write it, "…" filled in."""
    block = docs_block(r"cat > deploy/\.env <<'ENV'\n(.*?)\nENV\n")
    made = {line.split("=", 1)[0]: m.group(1) for line in block.splitlines()
            if (m := re.search(r'#\s*python3 -c "([^"]+)"', line))}
    out = {}
    for key, value in env_lines(block).items():
        if value == "…" and key in made:
            value = subprocess.run([sys.executable, "-c", made[key]], capture_output=True,
                                   text=True, check=True).stdout.strip()
        elif value == "…":
            assert key in GENERATED, f"docs/deployment.md: deploy/.env {key}: no test value"
            value = GENERATED[key]()
        out[key] = value
    return out


def documented_commands(prefix: str) -> list[list[str]]:
    """The words after ``prefix`` on each command line of the docs that has it."""
    return [shlex.split(line.split(prefix, 1)[1], comments=True)
            for line in DOCS.read_text("utf-8").splitlines() if prefix in line]


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    def var(m: re.Match[str]) -> str:
        assert m.group(1) in dotenv, f"${{{m.group(1)}}} is not in the documented .env"
        return dotenv[m.group(1)]
    return re.sub(r"\$\{(\w+)\}", var, value)


@dataclass
class Image:
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    copied: set[str]


def dockerfile() -> Image:
    image = Image({}, [], [], set())
    for line in (DEPLOY / "Dockerfile").read_text("utf-8").replace("\\\n", " ").splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            image.env.update(pair.split("=", 1) for pair in shlex.split(rest))
        elif word == "ENTRYPOINT":
            image.entrypoint = json.loads(rest)
        elif word == "CMD":
            image.cmd = json.loads(rest)
        elif word == "COPY":
            image.copied.update(shlex.split(rest)[:-1])
    return image


def depends(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition} (the list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (cond or {}).get("condition", "service_started")
            for name, cond in deps.items()}


@dataclass
class Service:
    """One compose service that runs the bot image."""

    name: str
    entry: list[str]  # ENTRYPOINT[1:] (after the ``binhyen`` script)
    args: list[str]  # ENTRYPOINT[1:] + command
    env: dict[str, str]  # image ENV < env_file < environment
    replicas: int
    after: dict[str, str]
    volumes: list[str]
    raw: dict[str, Any] = field(repr=False)


def compose(dotenv: dict[str, str]) -> tuple[dict[str, Any], dict[str, Service]]:
    """The compose file, and its services that run the bot image."""
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    image = dockerfile()
    bots = {}
    for name, svc in doc["services"].items():
        build = svc.get("build")
        if not build:
            continue
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == \
            DEPLOY / "Dockerfile", name
        assert svc["env_file"] == ".env", name  # the docs write deploy/.env
        env = {**image.env, **dotenv,
               **{k: interpolate(str(v), dotenv) for k, v in svc["environment"].items()}}
        entry = image.entrypoint[1:]
        bots[name] = Service(name, entry, entry + list(svc.get("command") or image.cmd), env,
                             int((svc.get("deploy") or {}).get("replicas", 1)), depends(svc),
                             list(svc.get("volumes", [])), svc)
    return doc, bots


def unit(path: Path) -> dict[str, list[str]]:
    """A systemd unit's keys (every value of a repeated key), sections flattened."""
    out: dict[str, list[str]] = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def parse(args: list[str]) -> Any:
    """binhyen's own argument parser (a bad command or option exits: the test fails)."""
    try:
        return build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"binhyen {shlex.join(args)}: not a valid command")


def script(path: str) -> str:
    """The installed ``binhyen`` script a command line starts with."""
    name = PurePosixPath(path).name
    assert PROJECT["scripts"].get(name) == "bot.cli.main:main", path  # = python -m bot
    return name


def container_config(service: Service) -> tuple[Config, str]:
    """The config a container builds: deploy/config.toml (the docs' copy of the example)
    mounted where --config points, plus the container's environment."""
    args = parse(service.args)
    data = tomllib.loads(EXAMPLE.read_text("utf-8"))
    return build_config(data, environ=service.env, source=args.config), args.config


def under(path: Path | str, folder: str) -> bool:
    return PurePosixPath(path) == PurePosixPath(folder) or \
        PurePosixPath(folder) in PurePosixPath(path).parents


# --- the files against the code ------------------------------------------------------------

def test_compose_file_and_dockerfile_match_the_code() -> None:
    dotenv = documented_dotenv()
    doc, bots = compose(dotenv)
    interpolate((DEPLOY / "docker-compose.yml").read_text("utf-8"), dotenv)  # every ${VAR}
    others = {n: s["image"].split(":")[0] for n, s in doc["services"].items() if n not in bots}
    assert others == {"db": "postgres", "proxy": "caddy"}
    assert "cp config.example.toml deploy/config.toml" in DOCS.read_text("utf-8")

    # The image: every package pyproject installs is copied; the entrypoint is binhyen.
    image = dockerfile()
    packages = {p.rstrip("*") for p in
                tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
                ["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= image.copied and {"pyproject.toml", "README.md"} <= image.copied
    script(image.entrypoint[0])

    # Commands: one migration job, then the three roles, all after it.
    commands = {name: parse(s.args) for name, s in bots.items()}
    jobs = {dep for s in doc["services"].values() for dep, cond in depends(s).items()
            if cond == "service_completed_successfully"}
    assert jobs == {"migrate"}
    assert (commands["migrate"].command, commands["migrate"].db_command) == ("db", "upgrade")
    assert bots["migrate"].raw["restart"] == "no"
    roles = {}
    for name, s in bots.items():
        if name in jobs:
            continue
        assert s.after == {"db": "service_healthy", "migrate": "service_completed_successfully"}
        assert commands[name].command == "run" and commands[name].role, name
        roles[name] = set(commands[name].role)
    assert set().union(*roles.values()) == ROLES, roles
    assert bots["worker"].replicas == 2 and bots["scheduler"].replicas == 2  # as documented

    # The config each container builds from its files and environment.
    db_env = doc["services"]["db"]["environment"]
    proxy_to = doc["services"]["proxy"]["command"][-1]
    for name, s in bots.items():
        config, config_at = container_config(s)
        mounts = {v.split(":")[1]: v.split(":") for v in s.volumes}
        assert mounts[config_at][0] == "./config.toml", name  # the docs' copy
        url = urlparse(config.database.url)
        assert (url.scheme, url.hostname, url.port, url.username, url.password, url.path) == (
            "postgresql+asyncpg", "db", 5432, db_env["POSTGRES_USER"],
            interpolate(db_env["POSTGRES_PASSWORD"], dotenv), "/" + db_env["POSTGRES_DB"]), name
        # Photos and exports land in a volume the bot may write to.
        data = [t for t, v in mounts.items() if under(config.data_path, t) and "ro" not in v[2:]]
        assert data, f"{name}: data folder {config.data_path} is not on a writable volume"
        # Health check, proxy and the web app agree on the port.
        health = " ".join(s.raw["healthcheck"].get("test", [])) if name not in jobs else ""
        if health:
            assert f"http://127.0.0.1:{config.web.port}/healthz" in health, name
        if "web" in roles.get(name, ()):
            assert config.web.host == "0.0.0.0" and proxy_to == f"web:{config.web.port}"
            assert config.telegram.mode == "webhook" and config.telegram.webhook_secret
            assert urlparse(config.telegram.webhook_url).path == "/telegram/webhook"

    # The documented one-off commands parse (docker compose run --rm SERVICE ARGS…).
    runs = documented_commands("docker-compose.yml run --rm ")
    assert runs
    for service, *args in runs:
        parse(bots[service].entry + args)


def test_systemd_units_parse_to_the_documented_roles() -> None:
    units = {p.name: unit(p) for p in sorted((DEPLOY / "systemd").glob("*.service"))}
    assert set(units) == {"binhyen@.service", "binhyen-migrate.service"}
    # Instance names in the docs and the unit's comments are roles, and cover them all.
    texts = DOCS.read_text("utf-8") + (DEPLOY / "systemd" / "binhyen@.service").read_text()
    instances = set(re.findall(r"binhyen@(\w+)", texts))
    assert instances == ROLES, instances
    enabled = {w.removeprefix("binhyen@") for c in documented_commands("systemctl enable --now ")
               for w in c}
    assert enabled == ROLES
    # /etc/binhyen/secrets.env as the docs describe it.
    section = docs_block(r"### With systemd\n(.*?)\n### ")
    secrets_env = {k: generate_key() for k in re.findall(r"`(BINHYEN_\w+)=…`", section)}
    assert set(secrets_env) == {"BINHYEN_SECURITY__DATA_KEY"}

    template = units["binhyen@.service"]
    assert template["EnvironmentFile"] == ["/etc/binhyen/secrets.env"]
    for role in sorted(instances):
        (start,) = (shlex.split(c.replace("%i", role)) for c in template["ExecStart"])
        args = parse(start[1:])
        assert script(start[0]) and (args.command, args.role) == ("run", [role])
        for pre in template.get("ExecStartPre", []):
            pre_args = parse(shlex.split(pre)[1:])
            assert (pre_args.command, pre_args.db_command) == ("db", "status")
        # The config it builds: the example plus the unit's environment and secrets; the
        # data folder must be writable under ProtectSystem=strict.
        env = {**secrets_env, **env_lines("\n".join(template["Environment"]))}
        config = build_config(tomllib.loads(EXAMPLE.read_text("utf-8")), environ=env,
                              source=args.config)
        assert template["ProtectSystem"] == ["strict"]
        assert any(under(config.data_path, p) for p in template["ReadWritePaths"]), \
            f"data folder {config.data_path} is read-only under ProtectSystem=strict"
        assert int(template["TimeoutStopSec"][0]) >= 10 and template["KillSignal"] == ["SIGTERM"]

    migrate = units["binhyen-migrate.service"]
    (start,) = (shlex.split(c) for c in migrate["ExecStart"])
    args = parse(start[1:])
    assert script(start[0]) and (args.command, args.db_command) == ("db", "upgrade")
    assert migrate["Type"] == ["oneshot"]
    assert migrate["EnvironmentFile"] == template["EnvironmentFile"]  # data_key is required
    assert migrate["User"] == template["User"]
    assert documented_commands("systemctl start binhyen-migrate")


# --- the compose topology as processes -----------------------------------------------------

class Containers:
    """Volumes as folders, container paths in arguments and variables mapped to them."""

    def __init__(self, base: Path, fresh_db_url: str, api: str) -> None:
        self.base = base
        self.db_url = fresh_db_url
        self.api = api
        self.paths: dict[str, Path] = {}

    def mount(self, volumes: list[str]) -> None:
        for volume in volumes:
            source, target = volume.split(":")[:2]
            if target in self.paths:
                continue
            if source.startswith("."):  # a bind mount: the operator's deploy/ folder
                host = self.base / "deploy" / source
                host.parent.mkdir(parents=True, exist_ok=True)
                if source == "./config.toml":  # cp config.example.toml deploy/config.toml
                    shutil.copyfile(EXAMPLE, host)
            else:  # a named volume
                host = self.base / "volumes" / source
                host.mkdir(parents=True, exist_ok=True)
            self.paths[target] = host

    def path(self, value: str) -> str:
        for target in sorted(self.paths, key=len, reverse=True):
            if under(value, target):
                return str(self.paths[target] / PurePosixPath(value).relative_to(target))
        return value

    def args(self, service: Service, args: list[str] | None = None) -> list[str]:
        self.mount(service.volumes)
        return [self.path(a) for a in (service.args if args is None else args)]

    def env(self, service: Service) -> dict[str, str]:
        self.mount(service.volumes)
        env = {k: self.path(v) for k, v in service.env.items()}
        assert urlparse(env["BINHYEN_DATABASE__URL"]).hostname == "db"  # checked above
        env["BINHYEN_DATABASE__URL"] = self.db_url
        env["BINHYEN_WEB__HOST"] = "127.0.0.1"
        env["BINHYEN_TELEGRAM__API_URL"] = self.api
        env["BINHYEN_TELEGRAM__FILE_URL"] = self.api.replace("/bot", "/file/bot")
        return env


async def urgent_notice(url: str) -> list[int]:
    """Residents of a commune the areas import brought in, with Telegram chats, and an
    urgent notice to them, stored as ``binhyen broadcast create --urgent`` does (the
    scheduler starts it); returns their chats."""
    config = build_config({"security": {"data_key": generate_key()}}, environ={})
    db = Database(make_engine(url))
    try:
        async with db.uow() as s:
            commune = await areas.by_code(s, COMMUNE)
            assert commune is not None, "areas import did not import the commune"
            chats = [FIRST_RESIDENT + i for i in range(RESIDENTS)]
            for chat in chats:
                person = await people.add_person(s, channel="telegram", user_id=str(chat),
                                                 chat_id=str(chat), language="vi",
                                                 display_name=f"Dân {chat}")
                person.consent, person.home_area_id = True, commune.id
        async with db.uow() as s:
            draft = broadcasts.Draft(template="scams", areas=[commune.id], groups=False,
                                  urgent=True)
            await broadcasts.create(s, draft, author_id=None, roles=[("admin", commune.id)],
                                 config=config, now=datetime.now(UTC), actor_label="test")
        return chats
    finally:
        await db.close()


async def senders(url: str, chats: list[int]) -> dict[str, tuple[str, str | None]]:
    db = Database(make_engine(url))
    try:
        async with db.read() as s:
            rows = (await s.execute(select(Delivery.chat_id, Delivery.state,
                                           Delivery.claimed_by).where(
                Delivery.chat_id.in_([str(c) for c in chats])))).all()
        return {chat: (state, who) for chat, state, who in rows}
    finally:
        await db.close()


async def metric_of(proc: BotProcess, name: str) -> float:
    status, text = await proc.get("/metrics")
    assert status == 200, proc.name
    return metric(text, name)


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.2)


@pytest.mark.postgres
async def test_the_compose_topology_runs_as_processes(tmp_path: Path) -> None:
    require_pg()
    dotenv = documented_dotenv()
    _, bots = compose(dotenv)
    began, phases = time.monotonic(), {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - began - sum(phases.values()), 1)

    async with fresh_pg_database() as url, FakeProcess(TOKEN) as tg:
        box = Containers(tmp_path, url, tg.api)
        phase("fake")
        # 1. The jobs the others wait for (service_completed_successfully): migrate.
        jobs = [s for s in bots.values() if any(
            dep == s.name and cond == "service_completed_successfully"
            for o in bots.values() for dep, cond in o.after.items())]
        for job in jobs:
            code, out, err = await bot_command(box.args(job), box.env(job))
            assert code == 0, f"{job.name} exited {code}:\n{err[-3000:]}"
            assert "schema upgraded: empty" in out, out
        phase("migrate")

        # 2. Everything else side by side, and the documented areas import meanwhile.
        specs = [(s, f"{s.name}-{i + 1}") for s in bots.values() if s not in jobs
                 for i in range(s.replicas)]
        (service, *import_args), = [c for c in documented_commands(
            "docker-compose.yml run --rm ") if c[1] == "areas"]

        def one_off(args: list[str]) -> Any:
            s = bots[service]
            return bot_command(box.args(s, s.entry + args), box.env(s))

        started = await asyncio.gather(
            *(BotProcess.start_args(box.args(s), tmp_path, name=n, env=box.env(s))
              for s, n in specs), one_off(import_args), return_exceptions=True)
        procs = [p for p in started[:-1] if isinstance(p, BotProcess)]
        try:
            for p in started:
                if isinstance(p, BaseException):
                    raise p
            code, _, err = started[-1]  # type: ignore[misc]
            assert code == 0, f"areas import exited {code}:\n{err[-3000:]}"
            phase("start")
            by_role: dict[str, list[BotProcess]] = {}
            for (s, _), p in zip(specs, procs, strict=True):
                for role in parse(s.args).role:
                    by_role.setdefault(role, []).append(p)
            (web,) = by_role["web"]
            workers, schedulers = by_role["worker"], by_role["scheduler"]
            # An urgent notice to a few residents: the leading scheduler fans it out at
            # its next tick (every 5 s), the workers send it; checked further down.
            chats = await urgent_notice(url)

            # The compose health check of every process; readiness of the web process.
            for p in procs:
                assert (await p.get("/healthz"))[0] == 200, p.name
            status, body = await web.get("/readyz")
            assert status == 200, body

            # A Telegram update on the web process's webhook (the path of the documented
            # webhook URL) is answered through the fake.
            hook = urlparse(dotenv["BINHYEN_TELEGRAM__WEBHOOK_URL"]).path
            answer = await tg.text(FIRST_RESIDENT - 1, "/start", web.url(hook))
            assert answer["status"] == 200, answer
            assert any("Bình Yên" in r for r in answer["replies"]), answer
            phase("webhook")

            # The notice reaches each resident once, sent by the workers.
            await tg.wait(lambda st: all(str(c) in st["per_chat"] for c in chats), timeout=30)
            sent_at = time.monotonic()
            phase("broadcast sent")
            names = {w.worker_name for w in workers}
            rows = await senders(url, chats)
            assert len(rows) == RESIDENTS
            assert all(state == "sent" and who in names for state, who in rows.values()), rows

            # Exactly one scheduler leads; the other waits; both workers share the limits.
            leaders = [await metric_of(p, "binhyen_scheduler_leader") for p in schedulers]
            assert sorted(leaders) == [0.0] * (len(schedulers) - 1) + [1.0], leaders

            async def sharing() -> bool:
                return [await metric_of(w, "binhyen_workers_sharing") for w in workers] == \
                    [len(workers)] * len(workers)
            await until(sharing, 10, "every worker counts all workers")
            await asyncio.sleep(max(0.0, sent_at + 1.0 - time.monotonic()))  # a repeat by now
            stats = await tg.stats()
            assert {c: stats["per_chat"].get(str(c)) for c in chats} == dict.fromkeys(chats, 1)
            phase("metrics")

            # SIGTERM (docker compose stop): every process exits cleanly.
            for p in procs:
                p.term()
            codes = await asyncio.gather(*(p.wait(20) for p in procs))
            assert codes == [0] * len(procs), {p.name: (c, p.log_tail(1500))
                                               for p, c in zip(procs, codes, strict=True) if c}
            phase("SIGTERM")
        finally:
            await close_all(procs)
        print(f"\n{len(procs)} processes ({', '.join(p.name for p in procs)}): "
              f"{RESIDENTS} residents served once each by "
              f"{len({who for _, who in rows.values()})} of {len(workers)} workers; "
              f"seconds per phase {phases}")
