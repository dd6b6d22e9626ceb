"""Configuration: one TOML file plus `HRD_INTAKE_*` environment variables.

Parsed once, at start-up, into frozen models; a bad value fails fast with the
name of the setting. Secrets come from the environment or from files (secret
mounts), never from the command line and never inline in the TOML file.

Precedence: environment > TOML file > defaults. The TOML file is
`$HRD_INTAKE_CONFIG`, else `$HRD_INTAKE_HOME/config.toml` when it exists.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from intake.errors import ConfigError
from intake.listening import LOOPBACK_HOSTS as LOOPBACK_HOSTS
from intake.listening import HttpSettings as HttpSettings
from intake.listening import WebSettings as WebSettings
from intake.listening import parse_http_addr as parse_http_addr

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoutingRule(_Frozen):
    """First matching rule wins; an empty criterion matches anything."""

    mission: str
    countries: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()

    @field_validator("countries")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(code.upper() for code in value)


class RoutingSettings(_Frozen):
    rules: tuple[RoutingRule, ...] = ()
    # Where a submission goes when neither a rule nor the missions directory
    # serves its country. None means "refuse to route", which loses the case:
    # so init's demo sets it and `missions import` warns when it is missing.
    fallback: str | None = "eeas-hq"


class KeyringSettings(_Frozen):
    path: Path
    passphrase: SecretStr | None = None


class TelegramSettings(_Frozen):
    token: SecretStr | None = None
    api_url: str = DEFAULT_TELEGRAM_API_URL
    webhook_url: str | None = None


class NotificationSettings(_Frozen):
    """Where officers are told of new cases (reference, mission, urgency; never content)."""

    telegram_chat: str | None = None
    matrix_room: str | None = None
    signal_group: str | None = None  # a Signal group id (base64) the bot's account is in


class SignalSettings(_Frozen):
    """`[signal]`: the bot's account in signal-cli's daemon (see `bots.signal`)."""

    account: str | None = None  # the bot's number, as signal-cli knows it (+E.164)
    rpc: str | None = None  # unix:/path/to/socket or tcp:127.0.0.1:PORT
    attachments: Path | None = None  # signal-cli's attachment folder
    # The disappearing-messages timer set at first contact; 0 leaves the chat's own.
    disappearing_seconds: int = Field(default=86400, ge=0, le=4 * 7 * 86400)

    @field_validator("rpc")
    @classmethod
    def _rpc_on_this_machine(cls, value: str | None) -> str | None:
        """signal-cli's daemon has no authentication: a socket, or TCP on loopback only."""
        if value is None or (value.startswith("unix:") and len(value) > 5):
            return value
        if value.startswith("tcp:"):
            host, _, port = value[4:].rpartition(":")
            if host.strip("[]") in LOOPBACK_HOSTS and port.isdigit():
                return value
            # The daemon has no authentication: whoever reaches it sends as the bot.
            raise ValueError("must be tcp:127.0.0.1:PORT (signal-cli's daemon has no authentication)")
        raise ValueError("expected unix:/path/to/socket or tcp:127.0.0.1:PORT")


class MatrixSettings(_Frozen):
    homeserver: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    # Only a legacy file store is read from there (moved into the database once).
    store: Path
    # Room keys go to the devices their owner cross-signed (Element's rule), or to all.
    share_keys_with: Literal["cross-signed", "all"] = "cross-signed"


class KeySettings(_Frozen):
    """Crypto-periods (`keys status` marks a key due once older) and safety margins.

    `[keys]` in the TOML file.
    """

    kek_period_days: int = Field(default=365, ge=1)
    pseudonym_period_days: int = Field(default=730, ge=1)
    mission_period_days: int = Field(default=730, ge=1)
    officer_period_days: int = Field(default=730, ge=1)
    recovery_period_days: int = Field(default=1825, ge=1)
    # AES-GCM with random 96-bit nonces: NIST SP 800-38D caps one key at 2**32
    # encryptions; warn at a quarter of that, while there is time to rotate.
    encryption_warn: int = Field(default=2**30, ge=1, le=2**32)
    # A service reloads the keyring file within a second of a rotation, but a
    # transaction begun before it may still wrap under the old primary: a
    # version is only retired this long after it stopped being the primary.
    retire_grace_minutes: int = Field(default=10, ge=0)
    # Drafts are wrapped under a draft-epoch key that changes this often; a key is
    # destroyed once older than `draft_idle_hours` plus one epoch.
    draft_epoch_minutes: int = Field(default=60, ge=1, le=24 * 60)


class RetentionSettings(_Frozen):
    """What `hrd-intake purge` destroys, and when. `[retention]` in the TOML file."""

    closed_case_days: int = Field(default=365, ge=1)
    # Digests of processed platform messages only deduplicate redeliveries
    # (Telegram keeps unconfirmed updates for 24 hours).
    processed_message_days: int = Field(default=30, ge=1)


class LeaseSettings(_Frozen):
    """`[leases]`: channel accounts shared by several `serve` processes.

    A standby takes a channel over at most about `ttl_seconds` after its
    holder died; the holder renews every third of it and stops consuming a
    fifth of it before expiry when it cannot renew (database unreachable).
    """

    ttl_seconds: float = Field(default=15.0, ge=1.0, le=600.0)


class CheckinSettings(_Frozen):
    """`[checkins]`: safety check-ins (README "Safety check-ins"): a prompt unanswered
    `grace_minutes` is missed; each `serve` polls every `poll_seconds`, `batch` per
    transaction; the words' Argon2id cost is `word_memory_kib` x `word_iterations`.
    """

    grace_minutes: int = Field(default=30, ge=1, le=24 * 60)
    poll_seconds: float = Field(default=15.0, ge=0.5, le=600.0)
    batch: int = Field(default=200, ge=1, le=5000)
    word_memory_kib: int = Field(default=19 * 1024, ge=8, le=1024 * 1024)
    word_iterations: int = Field(default=2, ge=1, le=10)


class Settings(_Frozen):
    home: Path
    database_url: str
    keyring: KeyringSettings
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    default_language: str = "en"
    duress_words: tuple[str, ...] = ()
    draft_idle_hours: int = Field(default=72, ge=1)
    max_attachment_mb: int = Field(default=20, ge=1, le=50)
    http_addr: str | None = None
    officer: str | None = None
    routing: RoutingSettings = RoutingSettings()
    telegram: TelegramSettings = TelegramSettings()
    matrix: MatrixSettings
    signal: SignalSettings = SignalSettings()
    notifications: NotificationSettings = NotificationSettings()
    keys: KeySettings = KeySettings()
    retention: RetentionSettings = RetentionSettings()
    leases: LeaseSettings = LeaseSettings()
    checkins: CheckinSettings = CheckinSettings()
    http: HttpSettings = HttpSettings()
    web: WebSettings = WebSettings()

    @field_validator("http_addr")
    @classmethod
    def _http_addr_format(cls, value: str | None) -> str | None:
        if value is not None:
            parse_http_addr(value)
        return value

    @model_validator(mode="after")
    def _http_addr_on_loopback(self) -> Settings:
        if self.http_addr is None:
            return self
        host, _ = parse_http_addr(self.http_addr)
        if host not in LOOPBACK_HOSTS and not self.http.allow_public:
            raise ValueError(
                f"http_addr {self.http_addr!r} is not on loopback: health and metrics stay "
                "on 127.0.0.1 unless [http] allow_public = true"
            )
        return self

    @property
    def log_path(self) -> Path:
        return self.home / "logs" / "hrd-intake.log"

    @property
    def audit_checkpoint(self) -> Path:
        """The audit log's head, kept outside the database, beside the keyring."""
        return self.keyring.path.parent / "audit-head.json"


# Environment variable -> dotted TOML key. Names are a contract with operators.
_ENV_KEYS = {
    "HRD_INTAKE_DATABASE_URL": "database_url",
    "HRD_INTAKE_LOG_FORMAT": "log_format",
    "HRD_INTAKE_LOG_LEVEL": "log_level",
    "HRD_INTAKE_HTTP_ADDR": "http_addr",
    "HRD_INTAKE_OFFICER": "officer",
    "HRD_INTAKE_WEB_LISTEN": "web.listen",
    "HRD_INTAKE_WEB_TRUSTED_PROXIES": "web.trusted_proxies",
    "HRD_INTAKE_WEB_LOGIN_ATTEMPTS": "web.login_attempts",
    "HRD_INTAKE_WEB_LOGIN_REFILL_SECONDS": "web.login_refill_seconds",
    "HRD_INTAKE_WEB_CONCURRENT_UNLOCKS": "web.concurrent_unlocks",
    "HRD_INTAKE_DEFAULT_LANGUAGE": "default_language",
    "HRD_INTAKE_KEYRING": "keyring.path",
    "HRD_INTAKE_TELEGRAM_API_URL": "telegram.api_url",
    "HRD_INTAKE_TELEGRAM_WEBHOOK_URL": "telegram.webhook_url",
    "HRD_INTAKE_MATRIX_HOMESERVER": "matrix.homeserver",
    "HRD_INTAKE_MATRIX_USER": "matrix.user",
    "HRD_INTAKE_MATRIX_STORE": "matrix.store",
    "HRD_INTAKE_SIGNAL_ACCOUNT": "signal.account",
    "HRD_INTAKE_SIGNAL_RPC": "signal.rpc",
    "HRD_INTAKE_SIGNAL_ATTACHMENTS": "signal.attachments",
}

# Secrets: environment variable (or VAR_FILE) -> TOML table and key; the TOML
# file may only name a file (`<key>_file`), never hold the secret itself.
_SECRETS = {
    "HRD_INTAKE_KEYRING_PASSPHRASE": ("keyring", "passphrase"),
    "HRD_INTAKE_TELEGRAM_TOKEN": ("telegram", "token"),
    "HRD_INTAKE_MATRIX_PASSWORD": ("matrix", "password"),
}


def _read_secret_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the file for {what} ({path}): {exc.strerror}") from exc


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment and the TOML file.

    Raises:
        ConfigError: a file cannot be read or a value is invalid.
    """
    env = os.environ if env is None else env
    home = Path(env.get("HRD_INTAKE_HOME", "./var")).expanduser()
    config_path = (
        Path(env["HRD_INTAKE_CONFIG"]) if "HRD_INTAKE_CONFIG" in env else home / "config.toml"
    )
    tree: dict[str, Any] = {}
    if config_path.exists():
        try:
            tree = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_path}: {exc}") from exc
    elif "HRD_INTAKE_CONFIG" in env:
        raise ConfigError(f"HRD_INTAKE_CONFIG names {config_path}, which does not exist")

    for table, key in _SECRETS.values():
        section = tree.get(table, {})
        if key in section:
            raise ConfigError(
                f"[{table}] {key} must not be written in the config file: "
                f"use {key}_file or the environment"
            )
        if f"{key}_file" in section:
            section[key] = _read_secret_file(Path(section.pop(f"{key}_file")), f"[{table}] {key}")
    for var, dotted in _ENV_KEYS.items():
        if env.get(var):
            _set_dotted(tree, dotted, env[var])
    for var, (table, key) in _SECRETS.items():
        if env.get(var):
            _set_dotted(tree, f"{table}.{key}", env[var])
        elif env.get(f"{var}_FILE"):
            # An empty file leaves the secret unset (a deployment declares every
            # secret file; one for a channel it does not use stays empty).
            value = _read_secret_file(Path(env[f"{var}_FILE"]), var)
            if value:
                _set_dotted(tree, f"{table}.{key}", value)

    tree["home"] = home
    tree.setdefault("database_url", f"sqlite:///{(home / 'intake.db').as_posix()}")
    keyring = tree.setdefault("keyring", {})
    keyring.setdefault("path", home / "keyring.json")
    if "passphrase" not in keyring:
        # The embedded setup keeps a generated passphrase beside the keyring
        # (see `init`); production supplies it from a secret mount instead.
        local = home / "keyring.passphrase"
        if local.exists():
            keyring["passphrase"] = _read_secret_file(local, "the keyring passphrase")
    tree.setdefault("matrix", {}).setdefault("store", home / "matrix-store")
    if "duress_words" in tree and isinstance(tree["duress_words"], str):
        tree["duress_words"] = [tree["duress_words"]]
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {describe_invalid(exc)}") from exc


def describe_invalid(error: ValidationError) -> str:
    """Where and why, for each problem; never the value (it may be a secret)."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{where}: {problem['msg']}" if where else str(problem["msg"]))
    return "; ".join(problems)
