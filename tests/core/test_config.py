from __future__ import annotations

import re
from pathlib import Path

import pytest

from myapi.core.config import ConfigurationError, Settings
from myapi.main import create_app
from scripts.devstack import ROOT
from tests.support.production import PRODUCTION_OK


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_with_real_values_loads() -> None:
    settings = _settings(**PRODUCTION_OK)
    assert settings.is_production
    assert settings.production_problems() == []


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"internal_token": "dev-internal-token-change-me"}, "INTERNAL_TOKEN"),
        ({"ad_callback_secret": "dev-ad-callback-secret-change-me"}, "AD_CALLBACK_SECRET"),
        ({"vendor_webhook_secret": "short"}, "VENDOR_WEBHOOK_SECRET"),
        ({"dev_login_enabled": True}, "DEV_LOGIN_ENABLED"),
        ({"eod_provider": "sandbox"}, "EOD_PROVIDER"),
        ({"reward_sandbox_enabled": True}, "REWARD_SANDBOX_ENABLED"),
        ({"reward_vendor_url": "http://vendor.internal"}, "REWARD_VENDOR_URL"),
        ({"jwt_private_keys": ""}, "JWT_PRIVATE_KEYS"),
    ],
)
def test_production_refuses_each_dev_setting_naming_the_variable(
    override: dict[str, object], variable: str
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        _settings(**{**PRODUCTION_OK, **override})


def test_production_defaults_refuse_to_start_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as excinfo:
        create_app()
    message = str(excinfo.value)
    for variable in ("INTERNAL_TOKEN", "DEV_LOGIN_ENABLED", "EOD_PROVIDER", "JWT_PRIVATE_KEYS"):
        assert variable in message


def test_dev_defaults_are_accepted_outside_production() -> None:
    assert _settings(environment="development").dev_login_enabled is True


def test_cors_origins_accept_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings(_env_file=None).cors_origins == [  # type: ignore[call-arg]
        "https://a.example",
        "https://b.example",
    ]


def test_libpq_database_urls_are_normalised() -> None:
    s = _settings(database_url="postgres://u:p@db:5432/x")
    assert s.database_url == "postgresql+psycopg2://u:p@db:5432/x"


def test_queue_prefix_applies_to_every_queue() -> None:
    names = _settings(queue_prefix="prod-").queue_names
    assert all(name.startswith("prod-") for name in names.values())
    assert set(names) == {"eod_fetch", "settlement_compute", "rewards_saga"}


def test_env_example_documents_every_setting() -> None:
    text = (Path(ROOT) / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set()
    assert documented - expected == set()
