from __future__ import annotations

from pathlib import Path

import pytest

from intake.config import load_settings
from intake.errors import ConfigError


def test_defaults_put_everything_under_home(tmp_path: Path) -> None:
    settings = load_settings({"HRD_INTAKE_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path.as_posix()}/intake.db"
    assert settings.keyring.path == tmp_path / "keyring.json"
    assert settings.matrix.store == tmp_path / "matrix-store"
    assert settings.log_format == "text"
    assert settings.http_addr is None
    assert settings.telegram.api_url == "https://api.telegram.org"


def test_environment_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'database_url = "sqlite:///from-file.db"\nlog_format = "json"\n'
        '[routing]\nfallback = "hq"\n[[routing.rules]]\nmission = "m1"\ncountries = ["ua"]\n'
    )
    settings = load_settings(
        {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_DATABASE_URL": "sqlite:///env.db"}
    )
    assert settings.database_url == "sqlite:///env.db"
    assert settings.log_format == "json"
    assert settings.routing.fallback == "hq"
    assert settings.routing.rules[0].countries == ("UA",)


def test_secret_from_file_and_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("123:from-file\n")
    settings = load_settings(
        {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_TELEGRAM_TOKEN_FILE": str(token_file)}
    )
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:from-file"
    assert "from-file" not in repr(settings)


def test_an_empty_secret_file_leaves_the_channel_off(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    settings = load_settings(
        {
            "HRD_INTAKE_HOME": str(tmp_path),
            "HRD_INTAKE_TELEGRAM_TOKEN_FILE": str(tmp_path / "token"),
        }
    )
    assert settings.telegram.token is None


def test_leases_and_http_settings(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        "[leases]\nttl_seconds = 4.5\n[http]\nallow_public = true\n"
    )
    settings = load_settings(
        {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_HTTP_ADDR": "0.0.0.0:9100"}
    )
    assert settings.leases.ttl_seconds == 4.5 and settings.http_addr == "0.0.0.0:9100"
    (tmp_path / "config.toml").write_text("[leases]\nttl_seconds = 0.1\n")
    with pytest.raises(ConfigError, match="ttl_seconds"):
        load_settings({"HRD_INTAKE_HOME": str(tmp_path)})


def test_secret_inline_in_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[telegram]\ntoken = "123:abc"\n')
    with pytest.raises(ConfigError, match="token_file"):
        load_settings({"HRD_INTAKE_HOME": str(tmp_path)})


def test_invalid_value_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="log_format"):
        load_settings({"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_LOG_FORMAT": "xml"})


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"HRD_INTAKE_CONFIG": str(tmp_path / "nope.toml")})


def test_web_console_settings(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[web]\nlisten = "127.0.0.1:8088"\nbehind_tls = true\norigin = "https://console.example.org"\n'
    )
    settings = load_settings({"HRD_INTAKE_HOME": str(tmp_path)})
    assert settings.web.listen == "127.0.0.1:8088" and settings.web.behind_tls
    assert settings.web.idle_minutes == 15 and settings.web.absolute_hours == 8
    env = {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_WEB_LISTEN": "0.0.0.0:8088"}
    with pytest.raises(ConfigError, match="not on loopback"):
        load_settings(env)


def test_sign_in_limit_and_trusted_proxies(tmp_path: Path) -> None:
    home = {"HRD_INTAKE_HOME": str(tmp_path)}
    web = load_settings(home).web
    assert (web.login_attempts, web.login_refill_seconds, web.trusted_proxies) == (20, 30, ())
    (tmp_path / "config.toml").write_text(
        '[web]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\nlogin_attempts = 50\n'
    )
    web = load_settings(home).web
    assert [str(n) for n in web.trusted_networks] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert web.login_attempts == 50 and web.login_refill_seconds == 30
    env = {
        **home,
        "HRD_INTAKE_WEB_TRUSTED_PROXIES": "::1, 127.0.0.1",
        "HRD_INTAKE_WEB_LOGIN_ATTEMPTS": "10",
        "HRD_INTAKE_WEB_LOGIN_REFILL_SECONDS": "60",
    }
    web = load_settings(env).web
    assert web.trusted_proxies == ("::1", "127.0.0.1")
    assert (web.login_attempts, web.login_refill_seconds) == (10, 60)
    with pytest.raises(ConfigError, match=r"web\.trusted_proxies.*not an IP address or network"):
        load_settings({**home, "HRD_INTAKE_WEB_TRUSTED_PROXIES": "proxy.example.org"})
    with pytest.raises(ConfigError, match=r"web\.login_attempts"):
        load_settings({**home, "HRD_INTAKE_WEB_LOGIN_ATTEMPTS": "0"})
