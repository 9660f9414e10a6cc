"""Deployment settings, each declared once, read from the environment (prefix ``HUIJU_``).

Functional settings that an integrator changes at run time (adapter endpoints, timeouts, retry
budgets) live in the database instead; see :mod:`adapters.config`.

==========================  ==========================================================  =====================
variable                    meaning                                                     default
==========================  ==========================================================  =====================
HUIJU_INSTANCE_PATH         folder for the SQLite file, broker folders, uploads         ``./instance``
HUIJU_DATABASE_URL          SQLAlchemy URL (``postgresql+psycopg://...`` to scale out)  SQLite in the instance
HUIJU_BROKER_URL            Celery broker (``redis://...`` to scale out)                filesystem broker
HUIJU_SECRET_KEY            Flask secret key; required when HUIJU_ENV=production        a development key
HUIJU_ENV                   ``development`` or ``production``                           ``development``
HUIJU_SANDBOX_HOST/PORT     where ``huiju sandbox`` listens                             127.0.0.1:8701
HUIJU_WEB_HOST/PORT         where ``huiju serve`` listens                               127.0.0.1:8700
HUIJU_SWEEP_SECONDS         how often the worker looks for due outbox rows and timers   2.0
HUIJU_LEASE_SECONDS         how long a delivery attempt holds its outbox row            30
HUIJU_LANG                  language of the command line: ``zh_CN`` or ``en``           ``zh_CN``
HUIJU_CERTS_FOLDER          keys, certificates, trust store and CRL                     ``<instance>/certs``
HUIJU_CERTS_PASSPHRASE      passphrase of the private keys (none in development)        none
HUIJU_EXCHANGE_SIGNING      sign requests and verify replies (off only for a plain      ``true``
                            sandbox in development)
HUIJU_UPLOAD_MAX_BYTES      largest file a resident may upload (a material, a photo)    ``10485760`` (10 MB)
HUIJU_UPLOADS_FOLDER        where uploaded files are kept (outside any web root)        ``<instance>/uploads``
HUIJU_PUBLIC_URL            where residents reach the web process (links sent by SMS)   ``http://WEB_HOST:PORT``
==========================  ==========================================================  =====================
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from huiju.errors import ConfigurationError
from huiju.i18n import _

_DEV_SECRET = "huiju-development-only-secret"  # noqa: S105 - refused in production below


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUIJU_", extra="ignore", frozen=True)

    env: Literal["development", "production", "test"] = "development"
    instance_path: Path = Field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str = ""
    broker_url: str = ""
    secret_key: str = _DEV_SECRET
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8701
    web_host: str = "127.0.0.1"
    web_port: int = 8700
    sweep_seconds: float = 2.0
    lease_seconds: float = 30.0
    lang: Literal["zh_CN", "en"] = "zh_CN"
    certs_folder: Path | None = None
    certs_passphrase: str | None = None
    exchange_signing: bool = True
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    uploads_folder: Path | None = None
    public_url: str = ""

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.env == "production" and self.secret_key == _DEV_SECRET:
            raise ConfigurationError(_("HUIJU_SECRET_KEY must be set when HUIJU_ENV=production"))
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path.resolve() / 'huiju.db'}"

    @cached_property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def broker_folder(self) -> Path:
        """Where the embedded (filesystem) broker keeps its messages."""
        return self.instance_path.resolve() / "broker"

    @property
    def resolved_certs_folder(self) -> Path:
        return (self.certs_folder or self.instance_path / "certs").resolve()

    @property
    def resolved_uploads_folder(self) -> Path:
        return (self.uploads_folder or self.instance_path / "uploads").resolve()

    @property
    def resolved_public_url(self) -> str:
        """The address in links sent to residents (an SMS's link to a written document)."""
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def sandbox_url(self) -> str:
        # Secure mode (signed messages) also means HTTPS with client certificates.
        scheme = "https" if self.exchange_signing else "http"
        return f"{scheme}://{self.sandbox_host}:{self.sandbox_port}"

    def ensure_folders(self) -> None:
        self.instance_path.mkdir(parents=True, exist_ok=True)
        if not self.broker_url:
            (self.broker_folder / "queue").mkdir(parents=True, exist_ok=True)
            (self.broker_folder / "processed").mkdir(parents=True, exist_ok=True)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; keyword arguments win (tests, factories)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ConfigurationError:
        raise
    except ValueError as exc:
        raise ConfigurationError(_("invalid Huiju setting: {error}", error=str(exc))) from exc
