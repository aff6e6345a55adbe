"""Unit tests for wirepost.config: every kind of setting parses from a dict environ, bad values
raise SettingsError naming the variable, the DATABASE_URL alias and *_FILE secrets work."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from wirepost.config import (
    Settings,
    SettingsError,
    env_name,
    load_settings,
    settings_fields,
    settings_markdown,
)

KEY_A = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
KEY_B = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"


def test_load_settings_defaults_from_an_empty_environ():
    assert load_settings({}) == Settings()


def test_load_settings_ignores_unrelated_and_empty_variables():
    settings = load_settings({"PORT": "1", "WIREPOST_PORT": "", "WIREPOSTPORT": "2"})
    assert settings.port == Settings().port


@pytest.mark.parametrize(
    ("env", "raw", "field", "value"),
    [
        ("WIREPOST_PORT", "9000", "port", 9000),
        ("WIREPOST_PORT", " 9001 ", "port", 9001),
        ("WIREPOST_MAX_BODY_SIZE", "1048576", "max_body_size", 1048576),
        ("WIREPOST_DEV", "true", "dev", True),
        ("WIREPOST_DEV", "1", "dev", True),
        ("WIREPOST_DEV", "TRUE", "dev", True),
        ("WIREPOST_RUN_DELIVERY", "false", "run_delivery", False),
        ("WIREPOST_RUN_DELIVERY", "0", "run_delivery", False),
        ("WIREPOST_LEASE", "45s", "lease", timedelta(seconds=45)),
        ("WIREPOST_LEASE", "500ms", "lease", timedelta(milliseconds=500)),
        ("WIREPOST_MAX_DELAY", "7d", "max_delay", timedelta(days=7)),
        ("WIREPOST_RETENTION", "1d12h", "retention", timedelta(hours=36)),
        ("WIREPOST_POLL_INTERVAL", "2", "poll_interval", timedelta(seconds=2)),
        ("WIREPOST_TOKEN", "one", "token", ("one",)),
        ("WIREPOST_TOKEN", "a, b,,c ", "token", ("a", "b", "c")),
        (
            "WIREPOST_DESTINATION_ALLOWLIST",
            "10.0.0.0/8,internal.example.com",
            "destination_allowlist",
            ("10.0.0.0/8", "internal.example.com"),
        ),
        ("WIREPOST_DATA_DIR", "/var/lib/wirepost", "data_dir", Path("/var/lib/wirepost")),
        ("WIREPOST_LOG_LEVEL", "debug", "log_level", "debug"),
        ("WIREPOST_LOG_FORMAT", "json", "log_format", "json"),
        ("WIREPOST_HOST", "127.0.0.1", "host", "127.0.0.1"),
        ("WIREPOST_DATABASE_URL", "postgresql://u@h/db", "database_url", "postgresql://u@h/db"),
        ("WIREPOST_CURRENT_SIGNING_KEY", KEY_A, "current_signing_key", KEY_A),
    ],
)
def test_load_settings_parses_every_kind(env, raw, field, value):
    environ = {env: raw}
    if field == "current_signing_key":
        environ["WIREPOST_NEXT_SIGNING_KEY"] = KEY_B
    assert getattr(load_settings(environ), field) == value


def test_load_settings_expands_home_in_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings({"WIREPOST_DATA_DIR": "~/pg"}).data_dir == tmp_path / "pg"


def test_every_setting_has_a_wirepost_variable_and_help():
    for f in settings_fields():
        assert env_name(f.name) == "WIREPOST_" + f.name.upper()
        assert f.metadata["help"]
        assert f.metadata["kind"] in {"str", "int", "bool", "duration", "list", "path"}


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WIREPOST_PORT": "eighty"}, "WIREPOST_PORT"),
        ({"WIREPOST_PORT": "70000"}, "WIREPOST_PORT"),
        ({"WIREPOST_PORT": "-1"}, "WIREPOST_PORT"),
        ({"WIREPOST_MAX_BODY_SIZE": "0"}, "WIREPOST_MAX_BODY_SIZE"),
        ({"WIREPOST_MAX_BODY_SIZE": "10MB"}, "WIREPOST_MAX_BODY_SIZE"),
        ({"WIREPOST_DELIVERY_CONCURRENCY": "0"}, "WIREPOST_DELIVERY_CONCURRENCY"),
        ({"WIREPOST_DELIVERY_BATCH_SIZE": "-5"}, "WIREPOST_DELIVERY_BATCH_SIZE"),
        ({"WIREPOST_RESPONSE_BODY_LIMIT": "0"}, "WIREPOST_RESPONSE_BODY_LIMIT"),
        ({"WIREPOST_DEV": "maybe"}, "WIREPOST_DEV"),
        ({"WIREPOST_RUN_API": "2"}, "WIREPOST_RUN_API"),
        ({"WIREPOST_LEASE": "soon"}, "WIREPOST_LEASE"),
        ({"WIREPOST_LEASE": "0s"}, "WIREPOST_LEASE"),
        ({"WIREPOST_POLL_INTERVAL": "-1s"}, "WIREPOST_POLL_INTERVAL"),
        ({"WIREPOST_ATTEMPT_TIMEOUT": "0"}, "WIREPOST_ATTEMPT_TIMEOUT"),
        ({"WIREPOST_MAX_DELAY": "1 week"}, "WIREPOST_MAX_DELAY"),
        ({"WIREPOST_LOG_LEVEL": "verbose"}, "WIREPOST_LOG_LEVEL"),
        ({"WIREPOST_LOG_FORMAT": "xml"}, "WIREPOST_LOG_FORMAT"),
        ({"WIREPOST_DEFAULT_RETRIES": "30"}, "WIREPOST_DEFAULT_RETRIES"),
        ({"WIREPOST_DEFAULT_RETRIES": "-1"}, "WIREPOST_DEFAULT_RETRIES"),
        (
            {"WIREPOST_MAX_RETRIES": "2", "WIREPOST_DEFAULT_RETRIES": "3"},
            "WIREPOST_DEFAULT_RETRIES",
        ),
        (
            {"WIREPOST_CURRENT_SIGNING_KEY": "short", "WIREPOST_NEXT_SIGNING_KEY": KEY_B},
            "WIREPOST_CURRENT_SIGNING_KEY",
        ),
        ({"WIREPOST_CURRENT_SIGNING_KEY": KEY_A}, "WIREPOST_NEXT_SIGNING_KEY"),
        ({"WIREPOST_NEXT_SIGNING_KEY": KEY_B}, "WIREPOST_NEXT_SIGNING_KEY"),
    ],
)
def test_load_settings_bad_value_names_the_variable(environ, named):
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert named in str(raised.value)
    assert named in raised.value.env
    assert isinstance(raised.value, ValueError)


def test_bad_value_message_shows_the_value():
    with pytest.raises(SettingsError, match="eighty"):
        load_settings({"WIREPOST_PORT": "eighty"})


def test_database_url_alias():
    assert load_settings({"DATABASE_URL": "postgresql://alias/db"}).database_url == (
        "postgresql://alias/db"
    )


def test_wirepost_database_url_wins_over_the_alias():
    environ = {
        "DATABASE_URL": "postgresql://alias/db",
        "WIREPOST_DATABASE_URL": "postgresql://w/db",
    }
    assert load_settings(environ).database_url == "postgresql://w/db"


def test_secret_from_file(tmp_path):
    (tmp_path / "token").write_text("first,second\n")
    (tmp_path / "db").write_text("postgresql://u:pw@h/db\n")
    (tmp_path / "current").write_text(KEY_A + "\n")
    (tmp_path / "next").write_text(KEY_B)
    settings = load_settings(
        {
            "WIREPOST_TOKEN_FILE": str(tmp_path / "token"),
            "WIREPOST_DATABASE_URL_FILE": str(tmp_path / "db"),
            "WIREPOST_CURRENT_SIGNING_KEY_FILE": str(tmp_path / "current"),
            "WIREPOST_NEXT_SIGNING_KEY_FILE": str(tmp_path / "next"),
        }
    )
    assert settings.token == ("first", "second")
    assert settings.database_url == "postgresql://u:pw@h/db"
    assert (settings.current_signing_key, settings.next_signing_key) == (KEY_A, KEY_B)


def test_secret_variable_wins_over_its_file(tmp_path):
    (tmp_path / "token").write_text("from-file")
    environ = {"WIREPOST_TOKEN": "from-env", "WIREPOST_TOKEN_FILE": str(tmp_path / "token")}
    assert load_settings(environ).token == ("from-env",)


def test_secret_file_that_cannot_be_read_names_the_file_variable(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings({"WIREPOST_TOKEN_FILE": str(tmp_path / "missing")})
    assert raised.value.env == "WIREPOST_TOKEN_FILE"
    assert "WIREPOST_TOKEN_FILE" in str(raised.value)


def test_file_variables_are_only_read_for_secrets(tmp_path):
    (tmp_path / "port").write_text("9999")
    assert load_settings({"WIREPOST_PORT_FILE": str(tmp_path / "port")}).port == Settings().port


def test_overrides_win_over_the_environment_and_none_is_ignored():
    settings = load_settings(
        {"WIREPOST_PORT": "9000", "WIREPOST_DEV": "true"}, {"port": 9100, "dev": None}
    )
    assert settings.port == 9100
    assert settings.dev is True


def test_overrides_are_validated():
    with pytest.raises(SettingsError, match="WIREPOST_PORT"):
        load_settings({}, {"port": 123456})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_redacted_hides_every_secret_and_shows_the_rest(tmp_path):
    settings = load_settings(
        {
            "WIREPOST_DATABASE_URL": "postgresql://u:hunter2@h/db",
            "WIREPOST_TOKEN": "tok-secret",
            "WIREPOST_CURRENT_SIGNING_KEY": KEY_A,
            "WIREPOST_NEXT_SIGNING_KEY": KEY_B,
            "WIREPOST_PORT": "9000",
            "WIREPOST_LEASE": "45s",
            "WIREPOST_DESTINATION_ALLOWLIST": "10.0.0.0/8,10.1.0.0/16",
        }
    )
    shown = settings.redacted()
    assert set(shown) == {env_name(f.name) for f in settings_fields()}
    for secret in ("hunter2", "tok-secret", KEY_A, KEY_B):
        assert secret not in str(shown)
    for name in ("DATABASE_URL", "TOKEN", "CURRENT_SIGNING_KEY", "NEXT_SIGNING_KEY"):
        assert shown["WIREPOST_" + name] == "<set>"
    assert shown["WIREPOST_PORT"] == "9000"
    assert shown["WIREPOST_LEASE"] == "45s"
    assert shown["WIREPOST_DESTINATION_ALLOWLIST"] == "10.0.0.0/8,10.1.0.0/16"


def test_redacted_shows_unset_secrets_as_empty():
    assert Settings().redacted()["WIREPOST_TOKEN"] == ""


def test_settings_markdown_lists_every_variable_and_keeps_secrets_off_flags():
    table = settings_markdown()
    for f in settings_fields():
        [row] = [line for line in table.splitlines() if f"`{env_name(f.name)}`" in line]
        if f.metadata["secret"]:
            assert "(env only)" in row


def test_a_duration_out_of_range_is_reported_as_a_duration():
    with pytest.raises(SettingsError) as raised:
        load_settings({"WIREPOST_IDLE_TIMEOUT": "0s"})
    assert str(raised.value) == "WIREPOST_IDLE_TIMEOUT: must be longer than 0s (got 0s)"
