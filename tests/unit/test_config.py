"""Config: defaults, from_dict and load, errors that name the key and the value, listen flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from moo.cli import build_parser, main, serve_config
from moo.config import (
    Config,
    Limits,
    Listen,
    Login,
    PasswordHash,
    env_wizard_password,
    from_dict,
    load,
    parse_listen,
    with_overrides,
)
from moo.errors import ConfigError


def test_defaults() -> None:
    config = Config()
    assert config.data_dir == Path("data")
    assert config.telnet == Listen("127.0.0.1", 7777, True)
    assert config.ssh == Listen("127.0.0.1", 7722, True)
    assert config.web == Listen("127.0.0.1", 7780, False)  # the web client: off by default
    assert config.wizard_password is None
    assert config.event_loop == "uvloop"
    assert config.log_level == "INFO"
    assert config.core_db is None
    assert config.limits == Limits()
    assert config.limits.max_line_bytes == 4096
    assert config.login == Login(5, 60.0, 60.0, 600.0)
    assert config.password_hash == PasswordHash(5, 7168, 1, 0)
    assert str(config.telnet) == "127.0.0.1:7777"


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().log_level = "DEBUG"  # type: ignore[misc]


def test_empty_mapping_is_all_defaults() -> None:
    assert from_dict({}) == Config()


def test_from_dict_top_level_and_nested_keys() -> None:
    config = from_dict(
        {
            "data_dir": "~/moo-data",
            "wizard_password": "sekrit",
            "event_loop": "asyncio",
            "core_db": "/srv/core",
            "telnet": {"host": "0.0.0.0", "port": 0},
            "ssh": {"enabled": False},
            "web": {"host": "0.0.0.0", "enabled": True},
            "limits": {"max_line_bytes": 1000, "commands_per_second": 5},
            "login": {"max_failures": 2, "lockout_seconds": 1.5},
            "password_hash": {"time_cost": 1},
        }
    )
    assert config.data_dir == Path("~/moo-data").expanduser()
    assert config.wizard_password == "sekrit"
    assert config.event_loop == "asyncio"
    assert config.core_db == Path("/srv/core")
    assert config.telnet == Listen("0.0.0.0", 0, True)
    # Keys left out of a section keep their defaults.
    assert config.ssh == Listen("127.0.0.1", 7722, False)
    assert config.web == Listen("0.0.0.0", 7780, True)
    assert config.limits.max_line_bytes == 1000
    assert config.limits.commands_per_second == 5.0
    assert type(config.limits.commands_per_second) is float
    assert config.limits.command_burst == Limits().command_burst
    assert config.login == Login(2, 60.0, 1.5, 600.0)
    assert config.password_hash == PasswordHash(1, 7168, 1, 0)


def test_null_optionals() -> None:
    config = from_dict({"wizard_password": None, "core_db": None})
    assert config.wizard_password is None and config.core_db is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"bogus": 1}, "bogus"),
        ({"limits": {"bogus": 1}}, "limits.bogus"),
        ({"telnet": {"prot": 7}}, "telnet.prot"),
        ({"login": {"max_failure": 3}}, "login.max_failure"),
    ],
)
def test_unknown_key_is_named(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: unknown setting"):
        from_dict(data)


@pytest.mark.parametrize(
    ("data", "key", "shown"),
    [
        ({"telnet": {"port": "x"}}, "telnet.port", "'x'"),
        ({"telnet": {"port": -1}}, "telnet.port", "-1"),
        ({"telnet": {"port": 1.5}}, "telnet.port", "1.5"),
        ({"telnet": {"port": True}}, "telnet.port", "True"),
        ({"telnet": {"enabled": "yes"}}, "telnet.enabled", "'yes'"),
        ({"telnet": {"enabled": 1}}, "telnet.enabled", "1"),
        ({"telnet": {"host": 5}}, "telnet.host", "5"),
        ({"limits": {"output_stall_seconds": "soon"}}, "limits.output_stall_seconds", "'soon'"),
        ({"limits": {"output_stall_seconds": -0.5}}, "limits.output_stall_seconds", "-0.5"),
        ({"limits": {"commands_per_second": False}}, "limits.commands_per_second", "False"),
        ({"login": {"max_failures": [3]}}, "login.max_failures", "[3]"),
        ({"event_loop": 3}, "event_loop", "3"),
        ({"log_level": ["INFO"]}, "log_level", "['INFO']"),
    ],
)
def test_wrong_type_names_key_and_value(data: dict[str, Any], key: str, shown: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_dict(data)
    message = str(caught.value)
    assert message.startswith(f"{key}:"), message
    assert shown in message, message


@pytest.mark.parametrize(
    ("section", "value"), [("telnet", 5), ("limits", "text"), ("password_hash", [1, 2])]
)
def test_section_that_is_not_a_mapping_names_key_and_value(section: str, value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        from_dict({section: value})
    message = str(caught.value)
    assert message.startswith(f"{section}:"), message
    assert repr(value) in message, message


@pytest.mark.parametrize(
    ("data", "key"),
    [({"data_dir": ["a", "b"]}, "data_dir"), ({"wizard_password": [1]}, "wizard_password")],
)
def test_path_and_text_settings_refuse_lists(data: dict[str, Any], key: str) -> None:
    # A list is not a path or a password; it must not become the text "['a', 'b']".
    with pytest.raises(ConfigError, match=rf"^{key}:"):
        from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"event_loop": "trio"}, r"^event_loop: expected uvloop or asyncio, got 'trio'"),
        ({"telnet": {"port": 65536}}, r"^telnet.port: 65536 is not a TCP port"),
        ({"metrics": {"port": 70000}}, r"^metrics.port: 70000 is not a TCP port"),
        ({"telnet_tls": {"port": 99999}}, r"^telnet_tls.port: 99999 is not a TCP port"),
        ({"tls": {"cert": 5}}, r"^tls.cert: expected text, got 5"),
        ({"ssh": {"port": 99999}}, r"^ssh.port: 99999"),
        ({"web": {"port": 70000}}, r"^web.port: 70000 is not a TCP port"),
        ({"limits": {"max_line_bytes": 79}}, r"^limits.max_line_bytes: 79 is too small"),
    ],
)
def test_validation_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_boundary_values_are_accepted() -> None:
    config = from_dict({"telnet": {"port": 65535}, "limits": {"max_line_bytes": 80}})
    assert config.telnet.port == 65535 and config.limits.max_line_bytes == 80


# ----------------------------------------------------------------------- load


def test_load_none_is_defaults() -> None:
    assert load(None) == Config()


def test_load_a_file(tmp_path: Path) -> None:
    path = tmp_path / "moo.yaml"
    path.write_text(
        "data_dir: /var/moo\ntelnet:\n  port: 4000\nlogin:\n  max_failures: 9\n",
        encoding="utf-8",
    )
    config = load(path)
    assert config.data_dir == Path("/var/moo")
    assert config.telnet.port == 4000 and config.telnet.host == "127.0.0.1"
    assert config.login.max_failures == 9


def test_load_an_empty_file_is_defaults(tmp_path: Path) -> None:
    path = tmp_path / "moo.yaml"
    path.write_text("# nothing set\n", encoding="utf-8")
    assert load(path) == Config()


def test_load_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(tmp_path / "absent.yaml")


def test_load_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "moo.yaml"
    path.write_text("telnet: [unclosed\n  port: : :\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(path)


def test_load_a_top_level_list(tmp_path: Path) -> None:
    path = tmp_path / "moo.yaml"
    path.write_text("- telnet\n- ssh\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load(path)


def test_load_reports_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "moo.yaml"
    path.write_text("limits:\n  bogus: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^limits.bogus: unknown setting"):
        load(path)


# ---------------------------------------------------------------- parse_listen


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:0", "127.0.0.1", 0),
        ("0.0.0.0:7777", "0.0.0.0", 7777),
        ("[::1]:7777", "::1", 7777),
        ("[::]:22", "::", 22),
        ("localhost:65535", "localhost", 65535),
        (":4000", "127.0.0.1", 4000),
    ],
)
def test_parse_listen(text: str, host: str, port: int) -> None:
    base = Listen("10.0.0.1", 1, enabled=False)
    assert parse_listen("--telnet", text, base) == Listen(host, port, True)


def test_parse_listen_off_keeps_the_address() -> None:
    base = Listen("10.0.0.1", 23, True)
    assert parse_listen("--ssh", "off", base) == Listen("10.0.0.1", 23, False)


@pytest.mark.parametrize(
    "text", ["", "localhost", "host:", "host:abc", "host:70000", "host:-1", "[::1]", "1.2.3.4:8 0"]
)
def test_parse_listen_refuses_bad_input(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--telnet: expected HOST:PORT") as caught:
        parse_listen("--telnet", text, Listen())
    assert repr(text) in str(caught.value)


def test_parse_listen_refuses_an_unbracketed_ipv6_address() -> None:
    # "::1" has no port: reading it as host ":" and port 1 would listen somewhere unexpected.
    with pytest.raises(ConfigError):
        parse_listen("--telnet", "::1", Listen())


# ---------------------------------------------------------------- overrides, env


def test_with_overrides_ignores_none_and_validates() -> None:
    config = with_overrides(Config(), log_level="DEBUG", wizard_password=None)
    assert config.log_level == "DEBUG" and config.wizard_password is None
    assert with_overrides(Config(), telnet=Listen(port=1)).telnet.port == 1
    with pytest.raises(ConfigError, match="event_loop"):
        with_overrides(Config(), event_loop="gevent")


def test_env_wizard_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOO_WIZARD_PASSWORD", raising=False)
    assert env_wizard_password() is None
    monkeypatch.setenv("MOO_WIZARD_PASSWORD", "")
    assert env_wizard_password() is None
    monkeypatch.setenv("MOO_WIZARD_PASSWORD", "hunter2")
    assert env_wizard_password() == "hunter2"


def test_the_tls_and_metrics_listeners_are_off_until_asked_for(tmp_path: Path) -> None:
    assert not Config().telnet_tls.enabled and not Config().metrics.enabled
    assert Config().tls.paths(tmp_path) == (tmp_path / "tls-cert.pem", tmp_path / "tls-key.pem")
    args = build_parser().parse_args(
        ["serve", "--telnet-tls", "0.0.0.0:992", "--metrics", "127.0.0.1:0"]
    )
    config = serve_config(args)
    assert config.telnet_tls == Listen("0.0.0.0", 992, True)
    assert config.metrics == Listen("127.0.0.1", 0, True)
    with pytest.raises(ConfigError, match="--metrics: expected HOST:PORT"):
        serve_config(build_parser().parse_args(["serve", "--metrics", "9100"]))
    mine = from_dict({"tls": {"cert": "/etc/moo/cert.pem", "key": "/etc/moo/key.pem"}})
    assert mine.tls.paths(tmp_path) == (Path("/etc/moo/cert.pem"), Path("/etc/moo/key.pem"))


def test_the_tcp_engine_link_flags_set_the_link_keys() -> None:
    front = serve_config(
        build_parser().parse_args(
            ["front", "--engine-listen", "10.0.0.1:0", "--link-secret-file", "/s/secret"]
        )
    )
    assert front.engine_listen == Listen("10.0.0.1", 0, True)
    assert front.link.secret_file == Path("/s/secret")
    engine = serve_config(build_parser().parse_args(["engine", "--front-address", "10.0.0.1:7701"]))
    assert engine.link.front_address == "10.0.0.1:7701"
    assert engine.link.secret_file is None
    assert Config().engine_listen.enabled is False


@pytest.mark.parametrize("address", ["10.0.0.1", "10.0.0.1:0", "off", "host:port"])
def test_a_front_address_that_is_not_host_and_port_names_the_key(address: str) -> None:
    with pytest.raises(ConfigError, match=r"link\.front_address"):
        from_dict({"link": {"front_address": address}})


def test_serve_runs_a_front_unless_single_process_is_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Config().single_process is False
    assert from_dict({"single_process": True}).single_process is True
    with pytest.raises(ConfigError, match="single_process: expected true or false"):
        from_dict({"single_process": "yes"})
    config_file = tmp_path / "single.yaml"
    config_file.write_text("single_process: true\n")
    # --front (the default's old flag) is accepted; against single-process it is refused
    # before anything starts.
    for argv in (
        ["serve", "--front", "--single-process"],
        ["serve", "--front", "--config", str(config_file)],
    ):
        assert main([*argv, "--data-dir", str(tmp_path / "data")]) == 2
        assert "--front and --single-process (or single_process) contradict" in (
            capsys.readouterr().err
        )
    assert not (tmp_path / "data").exists()
