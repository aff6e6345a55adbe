"""The ``wirepost`` command's fast paths: keygen, config, and the usage errors (exit code 2 naming
the variable) that happen before anything connects or listens."""

from __future__ import annotations

import socket

import pytest

from wirepost.cli import main
from wirepost.config import env_name, settings_fields
from wirepost.signing import BASE58_ALPHABET

KEY_A = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
KEY_B = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
DB_URL = "postgresql://wirepost:hunter2@127.0.0.1:1/wirepost"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No setting from the shell (conftest strips WIREPOST_* at import; DATABASE_URL too)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for f in settings_fields():
        monkeypatch.delenv(env_name(f.name), raising=False)
        monkeypatch.delenv(env_name(f.name) + "_FILE", raising=False)


def test_keygen_prints_a_32_byte_signing_key(capsys):
    assert main(["keygen"]) == 0
    out = capsys.readouterr().out
    [key] = out.splitlines()
    assert key.startswith("sig_")
    assert len(key.encode()) == 32
    assert set(key[4:]) <= set(BASE58_ALPHABET)


def test_keygen_prints_a_new_key_each_time(capsys):
    main(["keygen"])
    main(["keygen"])
    first, second = capsys.readouterr().out.splitlines()
    assert first != second


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_command_without_database_url_exits_2_naming_it(command, capsys):
    assert main([command]) == 2
    assert "WIREPOST_DATABASE_URL" in capsys.readouterr().err


def test_serve_without_token_exits_2_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("WIREPOST_DATABASE_URL", DB_URL)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "WIREPOST_TOKEN" in err
    assert "hunter2" not in err


def test_serve_accepts_the_database_url_alias_then_wants_a_token(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "WIREPOST_TOKEN" in err
    assert "WIREPOST_DATABASE_URL" not in err


@pytest.mark.parametrize("port", ["eighty", "70000"])
@pytest.mark.parametrize("command", ["serve", "config"])
def test_bad_port_variable_exits_2_naming_it(monkeypatch, capsys, command, port):
    monkeypatch.setenv("WIREPOST_DATABASE_URL", DB_URL)
    monkeypatch.setenv("WIREPOST_TOKEN", "t")
    monkeypatch.setenv("WIREPOST_PORT", port)
    assert main([command]) == 2
    assert "WIREPOST_PORT" in capsys.readouterr().err


def test_bad_port_flag_exits_2_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("WIREPOST_DATABASE_URL", DB_URL)
    monkeypatch.setenv("WIREPOST_TOKEN", "t")
    assert main(["serve", "--port", "eighty"]) == 2
    assert "--port" in capsys.readouterr().err


def test_bad_duration_variable_exits_2_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("WIREPOST_LEASE", "a while")
    assert main(["config"]) == 2
    assert "WIREPOST_LEASE" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["launch"])
    assert exited.value.code == 2


def test_secrets_are_not_flags(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--token", "t"])
    assert exited.value.code == 2


def config_lines(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines())


def test_config_redacts_secrets(monkeypatch, capsys):
    monkeypatch.setenv("WIREPOST_DATABASE_URL", DB_URL)
    monkeypatch.setenv("WIREPOST_TOKEN", "tok-one,tok-two")
    monkeypatch.setenv("WIREPOST_CURRENT_SIGNING_KEY", KEY_A)
    monkeypatch.setenv("WIREPOST_NEXT_SIGNING_KEY", KEY_B)
    monkeypatch.setenv("WIREPOST_PORT", "9123")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    for secret in ("hunter2", "tok-one", "tok-two", KEY_A, KEY_B):
        assert secret not in out
    shown = config_lines(out)
    for name in ("DATABASE_URL", "TOKEN", "CURRENT_SIGNING_KEY", "NEXT_SIGNING_KEY"):
        assert shown["WIREPOST_" + name] == "<set>"
    assert shown["WIREPOST_PORT"] == "9123"
    assert set(shown) == {env_name(f.name) for f in settings_fields()}


def test_healthcheck_of_a_closed_port_exits_1():
    with socket.socket() as s:  # a port nobody listens on: bind, read it, close
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["healthcheck", f"http://127.0.0.1:{port}/healthz"]) == 1
