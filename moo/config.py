"""Configuration: ``load(path) -> Config``, frozen, passed in (never a global).

Every key, its default and its meaning is in ``config.example.yaml``; the server
runs without any file. Unknown keys and bad values raise ``ConfigError`` naming
the key and the value, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from moo.errors import ConfigError


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 7777
    enabled: bool = True

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Limits:
    max_line_bytes: int = 4096
    output_buffer_bytes: int = 1 << 20
    output_stall_seconds: float = 60.0
    max_pending_lines: int = 100
    commands_per_second: float = 100.0
    command_burst: int = 200
    max_connections: int = 5000


@dataclass(frozen=True)
class Login:
    max_failures: int = 5
    failure_window_seconds: float = 60.0
    lockout_seconds: float = 60.0
    idle_timeout_seconds: float = 600.0


@dataclass(frozen=True)
class PasswordHash:
    # OWASP's argon2id profile with the least memory (7 MiB, 5 passes, 1 lane): as strong as
    # its 19 MiB / 46 MiB profiles, and ~15 ms of CPU here where 64 MiB x3 x4 took ~170 ms.
    time_cost: int = 5
    memory_cost_kib: int = 7168
    parallelism: int = 1
    max_concurrent: int = 0  # checks at once; 0: one fewer than the CPUs (at least one)


FSYNC_POLICIES = ("always", "everysec", "no")
"""``persist.fsync``: when journal writes reach the disk (see config.example.yaml)."""


@dataclass(frozen=True)
class Persist:
    fsync: str = "everysec"
    keep_checkpoints: int = 3
    max_checkpoint_bytes: int = 0
    records_url: str | None = None
    checkpoint_interval_seconds: float = 3600.0
    slice_ms: float = 1.0
    resume_interval_seconds: float = 10.0


@dataclass(frozen=True)
class Upgrade:
    load_timeout_seconds: float = 120.0
    ready_timeout_seconds: float = 10.0
    busy_wait_seconds: float = 5.0
    allow_in_game_command_lines: bool = True
    message_before: str = "*** The server is being upgraded: there may be a pause of a moment. ***"
    message_after: str = "*** Upgrade done: the server now runs version {version}. ***"
    message_restart: str = (
        "*** The server is restarting for an upgrade; please reconnect in a few seconds. ***"
    )
    message_failed: str = "*** The upgrade was called off; nothing changed. ***"
    message_tls: str = "*** The server is being upgraded; please reconnect ***"


@dataclass(frozen=True)
class Tls:
    cert: Path | None = None  # None: <data_dir>/tls-cert.pem (made self-signed if absent)
    key: Path | None = None  # None: <data_dir>/tls-key.pem

    def paths(self, data_dir: Path) -> tuple[Path, Path]:
        """The certificate and key files in use."""
        return self.cert or data_dir / TLS_CERT_FILE, self.key or data_dir / TLS_KEY_FILE


TLS_CERT_FILE = "tls-cert.pem"
TLS_KEY_FILE = "tls-key.pem"


@dataclass(frozen=True)
class Lang:
    fg_ticks: int = 30_000
    fg_seconds: float = 5.0
    bg_ticks: int = 15_000
    bg_seconds: float = 3.0
    max_stack_depth: int = 50
    max_string_length: int = 1_000_000
    max_list_length: int = 100_000


@dataclass(frozen=True)
class EngineLink:
    """The front <-> engine link over TCP (``engine_listen`` is the front's side)."""

    front_address: str = ""  # the engine's: HOST:PORT of the front's engine_listen; "": Unix
    secret_file: Path | None = None  # None: <data_dir>/link-secret (the front makes it)
    tls: bool = True  # both sides alike: TLS 1.3 under the handshake


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("data")
    telnet: Listen = field(default_factory=lambda: Listen(port=7777))
    ssh: Listen = field(default_factory=lambda: Listen(port=7722))
    telnet_tls: Listen = field(default_factory=lambda: Listen(port=7992, enabled=False))
    metrics: Listen = field(default_factory=lambda: Listen(port=9777, enabled=False))
    tls: Tls = field(default_factory=Tls)
    web: Listen = field(default_factory=lambda: Listen(port=7780, enabled=False))
    engine_listen: Listen = field(default_factory=lambda: Listen(port=7701, enabled=False))
    link: EngineLink = field(default_factory=EngineLink)
    wizard_password: str | None = None
    single_process: bool = False  # True: one process, no front (moo serve --single-process)
    event_loop: str = "uvloop"
    spare_engine: bool = True  # behind a front that starts its engines: keep one ready
    full_gc_interval_seconds: float = 600.0  # 0: CPython schedules full collections
    timezone: str = "UTC"
    log_level: str = "INFO"
    core_db: Path | None = None
    limits: Limits = field(default_factory=Limits)
    login: Login = field(default_factory=Login)
    password_hash: PasswordHash = field(default_factory=PasswordHash)
    persist: Persist = field(default_factory=Persist)
    upgrade: Upgrade = field(default_factory=Upgrade)
    lang: Lang = field(default_factory=Lang)


LISTENERS = ("telnet", "ssh", "telnet_tls", "metrics", "web", "engine_listen")
"""The top-level sections that are listening addresses (``Listen``)."""


def _coerce(key: str, kind: Any, value: Any) -> Any:
    if is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(kind, value, f"{key}.")
    if kind in ("Path | None", "str | None") and value is None:
        return None
    if kind in ("Path", Path, "Path | None", "str | None") and not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {value!r}")
    if kind in ("Path", Path, "Path | None"):
        return Path(value).expanduser()
    if kind == "str | None":
        return value
    if kind in ("bool", bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind in ("int", int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{key}: expected a whole number >= 0, got {value!r}")
        return value
    if kind in ("float", float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{key}: expected a number >= 0, got {value!r}")
        return float(value)
    if kind in ("str", str):
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported setting type {kind!r}")


# Sections of the top level: each is a dataclass of its own keys.
_NESTED: dict[str, type[Any]] = {
    f.name: type(getattr(Config(), f.name))
    for f in fields(Config)
    if is_dataclass(getattr(Config(), f.name))
}


def _build(cls: type[Any], data: dict[str, Any], prefix: str = "") -> Any:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    defaults = cls()
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown setting (see config.example.yaml)")
        kind = _NESTED.get(key) if cls is Config else None
        if kind is not None:
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{key}: expected a mapping of settings, got {value!r}")
            base = dataclasses.asdict(getattr(defaults, key))
            base.update(value)
            values[key] = _coerce(prefix + key, kind, base)
        else:
            values[key] = _coerce(prefix + key, known[key].type, value)
    return replace(defaults, **values)


def _validate(config: Config) -> Config:
    if config.event_loop not in ("uvloop", "asyncio"):
        raise ConfigError(f"event_loop: expected uvloop or asyncio, got {config.event_loop!r}")
    for name in LISTENERS:
        listen: Listen = getattr(config, name)
        if listen.port > 65535:
            raise ConfigError(f"{name}.port: {listen.port} is not a TCP port")
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {config.timezone!r}") from None
    if config.persist.fsync not in FSYNC_POLICIES:
        raise ConfigError(
            f"persist.fsync: expected always, everysec or no, got {config.persist.fsync!r}"
        )
    if config.link.front_address:
        address = parse_listen("link.front_address", config.link.front_address, Listen())
        if address.port == 0 or not address.enabled:
            raise ConfigError(
                f"link.front_address: expected the front's HOST:PORT, got "
                f"{config.link.front_address!r}"
            )
    if config.limits.max_line_bytes < 80:
        raise ConfigError(f"limits.max_line_bytes: {config.limits.max_line_bytes} is too small")
    return config


def from_dict(data: dict[str, Any]) -> Config:
    """A Config from a mapping shaped like config.example.yaml."""
    return _validate(_build(Config, data))


def load(path: Path | None) -> Config:
    """Read a YAML config file (None: all defaults). Raises ConfigError."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return from_dict(data)


def parse_listen(key: str, text: str, base: Listen) -> Listen:
    """``HOST:PORT`` (or ``off``) from a command-line flag."""
    if text == "off":
        return replace(base, enabled=False)
    host, sep, port = text.rpartition(":")
    bare_ipv6 = ":" in host and not (host.startswith("[") and host.endswith("]"))
    if not sep or not (port.isascii() and port.isdigit()) or int(port) > 65535 or bare_ipv6:
        raise ConfigError(
            f"{key}: expected HOST:PORT or [IPV6]:PORT (port 0 picks a free one), got {text!r}"
        )
    return replace(base, host=host.strip("[]") or "127.0.0.1", port=int(port), enabled=True)


def with_overrides(config: Config, **changes: Any) -> Config:
    """A copy with the given top-level fields replaced (None values are ignored)."""
    return _validate(replace(config, **{k: v for k, v in changes.items() if v is not None}))


def env_wizard_password() -> str | None:
    return os.environ.get("MOO_WIZARD_PASSWORD") or None
