"""The typed, frozen config tree: the example file, environment overrides, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import Config, ConfigError, build_config, load_config
from storage.crypto import generate_key

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
KEY = generate_key()
SOURCE = "/srv/binhyen/config.toml"


def _example_keys() -> dict[tuple[str, str], int]:
    """(section, key) → line number for every ``key = value`` line in the example file."""
    keys: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(EXAMPLE.read_text("utf-8").splitlines()):
        header = re.match(r"^\[(\w+)\]\s*$", line)
        if header:
            section = header.group(1)
            continue
        assignment = re.match(r"^(\w+)\s*=", line)
        if assignment:
            assert section, f"line {number + 1}: key outside any section"
            keys[(section, assignment.group(1))] = number
    return keys


def _model_keys() -> set[tuple[str, str]]:
    keys = set()
    for name, field in Config.model_fields.items():
        if name == "source":  # set by the loader, not a file key
            continue
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        keys |= {(name, key) for key in section.model_fields}
    return keys


def _error(data: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        build_config(data, environ=environ or {}, source=SOURCE)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{SOURCE}: "), message
    return message


# --- the example file ------------------------------------------------------------------


def test_example_file_parses_with_a_data_key_from_the_environment() -> None:
    config = load_config(EXAMPLE, environ={"BINHYEN_SECURITY__DATA_KEY": KEY})
    assert config.security.data_key == KEY
    assert config.source == str(EXAMPLE)
    assert config.web.port == 8080
    assert config.bot.timezone == "Asia/Ho_Chi_Minh"
    assert not config.telegram.enabled and not config.zalo.enabled
    # An empty database URL means an SQLite file in the data folder next to the config.
    assert config.database_url == f"sqlite+aiosqlite:///{EXAMPLE.parent / 'data' / 'binhyen.db'}"


def test_example_file_without_a_data_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[security\] data_key: missing"):
        load_config(EXAMPLE, environ={})


def test_every_config_key_is_documented_in_the_example_and_vice_versa() -> None:
    documented = _example_keys()
    model = _model_keys()
    assert sorted(model - documented.keys()) == [], "keys missing from config.example.toml"
    assert sorted(documented.keys() - model) == [], "example keys the Config does not know"


def _comment_above(lines: list[str], number: int) -> tuple[str, bool]:
    """The comment block above line ``number`` (skipping key lines it shares) and whether it
    is directly above."""
    i = number - 1
    while i >= 0 and re.match(r"^\w+\s*=", lines[i]):
        i -= 1
    block = []
    while i >= 0 and lines[i].lstrip().startswith("#"):
        block.append(lines[i])
        i -= 1
    return " ".join(reversed(block)), i + len(block) == number - 1


def test_every_example_key_has_a_comment_line_above_it() -> None:
    lines = EXAMPLE.read_text("utf-8").splitlines()
    uncommented = []
    for (section, key), number in _example_keys().items():
        comment, direct = _comment_above(lines, number)
        # A comment shared by consecutive keys ("Address and port of …") must name each.
        if not comment or not (direct or re.search(rf"\b{key}\b", comment)):
            uncommented.append(f"[{section}] {key}")
    assert uncommented == []


def test_every_section_of_the_model_is_a_section_of_the_example() -> None:
    sections = set(re.findall(r"^\[(\w+)\]", EXAMPLE.read_text("utf-8"), flags=re.M))
    assert sections == {n for n in Config.model_fields if n != "source"}


# --- environment overrides -------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[web]\nport = 8081\n[security]\ndata_key = "{KEY}"\n', "utf-8")
    environ = {"BINHYEN_WEB__PORT": "9000", "BINHYEN_TELEGRAM__TOKEN": "123:ABC",
               "BINHYEN_BOT__DEMO": "true", "BINHYEN_LIMITS__GLOBAL_PER_SECOND": "100",
               "BINHYEN_CONFIG": str(path),  # names the file; never a key
               "OTHER_WEB__PORT": "1", "BINHYEN_NOSEPARATOR": "x"}
    config = load_config(path, environ=environ)
    assert config.web.port == 9000
    assert config.telegram.token == "123:ABC" and config.telegram.enabled
    assert config.bot.demo is True
    assert config.limits.global_per_second == 100


def test_secrets_can_live_only_in_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[telegram]\nmode = \"webhook\"\nwebhook_url = \"https://b.example.vn/tg\"\n",
                    "utf-8")
    old = generate_key()
    config = load_config(path, environ={
        "BINHYEN_SECURITY__DATA_KEY": KEY, "BINHYEN_TELEGRAM__TOKEN": "123:ABC",
        "BINHYEN_TELEGRAM__WEBHOOK_SECRET": "s3cret_value",
        "BINHYEN_WEB__SESSION_SECRET": "cookie-secret",
        "BINHYEN_SECURITY__OLD_DATA_KEYS": old})
    assert config.security.data_key == KEY
    assert config.security.old_data_keys == (old,)
    assert config.telegram.webhook_secret == "s3cret_value"
    assert config.web.session_secret == "cookie-secret"


def test_several_old_keys_from_the_environment() -> None:
    a, b = generate_key(), generate_key()
    config = build_config({}, environ={"BINHYEN_SECURITY__DATA_KEY": KEY,
                                       "BINHYEN_SECURITY__OLD_DATA_KEYS": f"{a}, {b}"})
    assert config.security.old_data_keys == (a, b)


def test_environment_errors_are_one_line_naming_the_key() -> None:
    message = _error({"security": {"data_key": KEY}}, {"BINHYEN_WEB__PORT": "eighty"})
    assert "[web] port" in message


# --- one line per error, naming the file and the key ----------------------------------


@pytest.mark.parametrize(("data", "where", "problem"), [
    pytest.param({"web": {"portt": 1}}, "[web] portt", "unknown key", id="unknown-key"),
    pytest.param({"webb": {"port": 1}}, "webb", "unknown section", id="unknown-section"),
    pytest.param({"web": {"port": "eighty"}}, "[web] port", "integer", id="wrong-type-int"),
    pytest.param({"web": {"webchat": "maybe"}}, "[web] webchat", "boolean",
                 id="wrong-type-bool"),
    pytest.param({"web": {"port": 70000}}, "[web] port", "65535", id="out-of-range"),
    pytest.param({"telegram": {"api_url": "ftp:/api.example"}}, "[telegram] api_url",
                 "not a valid URL", id="bad-url"),
    pytest.param({"web": {"public_url": "binhyen.example.vn"}}, "[web] public_url",
                 "not a valid URL", id="bad-url-no-scheme"),
    pytest.param({"database": {"url": "mysql://db/binhyen"}}, "[database] url",
                 "postgresql+asyncpg://", id="bad-database-url"),
    pytest.param({"telegram": {"token": "1:a", "mode": "webhook",
                               "webhook_url": "https://b.example.vn/tg"}},
                 "[telegram] webhook_secret", "required", id="webhook-without-secret"),
    pytest.param({"telegram": {"token": "1:a", "mode": "webhook", "webhook_secret": "abcdefgh"}},
                 "[telegram] webhook_url", "required", id="webhook-without-url"),
    pytest.param({"zalo": {"token": "1:a", "mode": "webhook"}}, "[zalo] webhook_secret",
                 "required", id="zalo-webhook-without-secret"),
    pytest.param({"telegram": {"mode": "push"}}, "[telegram] mode", "polling",
                 id="bad-choice"),
    pytest.param({"bot": {"timezone": "Asia/Hanoi_City"}}, "[bot] timezone",
                 "unknown time zone", id="unknown-time-zone"),
    pytest.param({"bot": {"timezone": "../../etc/passwd"}}, "[bot] timezone",
                 "unknown time zone", id="time-zone-path"),
])
def test_invalid_values_give_one_line(data: dict[str, Any], where: str, problem: str) -> None:
    data = {"security": {"data_key": KEY}, **data}
    message = _error(data)
    assert f"{SOURCE}: {where}: " in message
    assert problem in message


def test_missing_data_key() -> None:
    message = _error({"web": {"port": 8080}})
    assert "[security] data_key" in message and "missing" in message
    assert "binhyen init" in message  # says how to get one


@pytest.mark.parametrize("bad", ["not base64 at all!", "c2hvcnQ", "too long"])
def test_malformed_data_key(bad: str) -> None:
    if bad == "too long":
        bad = generate_key() + "AAAA"  # made here: parameters must be the same in every worker
    message = _error({"security": {"data_key": bad}})
    assert "[security] data_key" in message
    assert bad not in message  # a secret, even a broken one, is not echoed


def test_malformed_old_data_key() -> None:
    message = _error({"security": {"data_key": KEY, "old_data_keys": ["c2hvcnQ"]}})
    assert "[security] old_data_keys" in message


def test_unreadable_file(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.toml", tmp_path):  # absent; a directory
        with pytest.raises(ConfigError) as info:
            load_config(path, environ={"BINHYEN_SECURITY__DATA_KEY": KEY})
        message = str(info.value)
        assert message.startswith(str(path)) and "cannot read" in message
        assert "\n" not in message


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[web]\nport = 8080\nhost = "127.0.0.1\n', "utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"BINHYEN_SECURITY__DATA_KEY": KEY})
    message = str(info.value)
    assert message.startswith(str(path)) and "not valid TOML" in message
    assert "line 3" in message
    assert "\n" not in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[bot]\nlanguage = "vi"  # Ti\xea\xd2ng Vi\xd6t\n')  # a legacy code page
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path, environ={"BINHYEN_SECURITY__DATA_KEY": KEY})
    assert str(info.value).startswith(str(path))


def test_errors_from_a_file_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[security]\ndata_key = "{KEY}"\n[limits]\nglobal_per_secnd = 5\n',
                    "utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == f"{path.resolve()}: [limits] global_per_secnd: unknown key"


# --- frozen ----------------------------------------------------------------------------


def test_config_is_frozen() -> None:
    config = build_config({"security": {"data_key": KEY}}, environ={})
    with pytest.raises(ValidationError):
        config.web.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.web = config.web  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.security.data_key = generate_key()  # type: ignore[misc]
    assert config.web.port == 8080
    # Tuples, not lists: nothing inside can be changed in place either.
    assert isinstance(config.security.old_data_keys, tuple)


def test_config_is_hashable_and_comparable() -> None:
    a = build_config({"security": {"data_key": KEY}}, environ={})
    b = build_config({"security": {"data_key": KEY}}, environ={})
    assert a == b and hash(a) == hash(b)


def test_the_example_config_ships_inside_the_package() -> None:
    # A wheel (or the Docker image) has no repository root: `binhyen init` reads it here.
    from importlib import resources
    from pathlib import Path

    shipped = resources.files("bot.cli").joinpath("config.example.toml").read_text("utf-8")
    root = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert shipped == root.read_text("utf-8") and "[security]" in shipped
