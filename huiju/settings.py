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
HUIJU_WORKER_NICENESS       the worker's CPU priority, 0 to 19 (above 0 it yields the   ``10``
                            CPU to the web processes on a shared machine)
HUIJU_LANG                  language of the command line: ``zh_CN`` or ``en``           ``zh_CN``
HUIJU_CERTS_FOLDER          keys, certificates, trust store and CRL                     ``<instance>/certs``
HUIJU_CERTS_PASSPHRASE      passphrase of the private keys (none in development)        none
HUIJU_EXCHANGE_SIGNING      sign requests and verify replies (off only for a plain      ``true``
                            sandbox in development)
HUIJU_UPLOAD_MAX_BYTES      largest file a resident may upload (a material, a photo)    ``10485760`` (10 MB)
HUIJU_UPLOADS_FOLDER        where uploaded files are kept (outside any web root)        ``<instance>/uploads``
HUIJU_PUBLIC_URL            where residents reach the web process (links sent by SMS)   ``http://WEB_HOST:PORT``
HUIJU_UPLOAD_MAX_PIXELS     largest picture accepted, in pixels (decompression bombs)   ``50000000``
HUIJU_SESSION_IDLE_MINUTES  a web session ends after this long without a request        ``30``
HUIJU_SESSION_MAX_HOURS     and this long after sign-in, however active                 ``12``
HUIJU_RATELIMIT_STORAGE     where request and sign-in counters live: ``memory://`` for  the Redis broker if
                            one web process, ``redis://...`` shared by several         any, else ``memory://``
HUIJU_SIGNIN_ADDRESS_LIMIT  failed sign-ins one client address may make                 ``50 per 15 minutes``
HUIJU_SIGNIN_SLOWDOWN_AFTER failed sign-ins of one account before each next attempt     ``5``
                            waits (1 s, doubling, within the 15 minutes)
HUIJU_SIGNIN_MAX_DELAY      the longest such wait, in seconds                           ``60``
HUIJU_EXCHANGE_RATE_LIMIT   calls to ``/exchange/soap`` per client address              ``600 per minute``
HUIJU_INBOUND_HOST/PORT     where ``huiju serve`` listens for the systems' callbacks    127.0.0.1:8702
                            over mutual TLS (secure mode)
HUIJU_INBOUND_MTLS          callbacks only over TLS with a client certificate of a      secure mode, outside
                            trusted member                                              ``test``
HUIJU_ADAPTER_ENDPOINTS     first endpoint of each system, as JSON (``{"sms":           the sandbox (none in
                            "https://..."}``); after that the database's, edited in     production)
                            the console or with ``huiju adapters set``
HUIJU_DECISION_QUERY_AFTER  how long a reported case waits for the extranet's decision  ``P1D`` (one working
                            callback before Huiju asks (QueryCase); ISO 8601, days      day)
                            are working days, e.g. ``PT10M``
HUIJU_DELIVERY_QUERY_AFTER  how long after the SMS platform accepted an SMS Huiju       ``PT10M``
                            waits for its delivery report before asking (QueryDelivery)
HUIJU_SANDBOX_DATA          where ``huiju sandbox`` keeps its journal, stored records   ``<instance>/sandbox``
                            and the callbacks it still owes (they survive a restart)
HUIJU_SANDBOX_CHECKOUT_PORT where the sandbox's payment platform serves its checkout   ``8703``
                            pages (plain HTTP on HUIJU_SANDBOX_HOST: a payer's browser
                            has no client certificate); ``payUrl`` points there
HUIJU_SANDBOX_PAYER         what the sandbox's payer does with a new payment:           ``at_once``
                            ``at_once`` (pays it) or ``checkout`` (waits for a person
                            on the checkout page; ``huiju demo`` uses it)
HUIJU_LOG_FORMAT            ``json`` (one object a line, with case number and message   ``json`` in production,
                            id) or ``text`` (readable)                                  else ``text``
HUIJU_LOG_LEVEL             ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``               ``INFO``
HUIJU_HEALTH_TIMEOUT        seconds /healthz waits for the broker and each system       ``2``
HUIJU_HEALTH_OUTBOX_AGE     /healthz fails when a message has waited longer (seconds)   ``600``
HUIJU_HEALTH_OUTBOX_DEPTH   /healthz fails when more messages wait to be delivered      ``10000``
HUIJU_METRICS_TOKEN         a bearer token /metrics wants (unset: open, for a scraper   none
                            on the internal network)
HUIJU_DEMO_POSTGRES_PORT    where ``huiju demo-scale`` runs its PostgreSQL              ``8704``
HUIJU_DEMO_REDIS_PORT       where ``huiju demo-scale`` runs its Redis                   ``8705``
==========================  ==========================================================  =====================

Secure mode is ``HUIJU_EXCHANGE_SIGNING`` (the default): messages signed, HTTPS with client
certificates to the systems, callbacks accepted over mutual TLS only, http:// endpoints refused.
In production the secret key must be set and at least 32 bytes long, and cookies are ``Secure``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from huiju.calendar import Wait
from huiju.errors import ConfigurationError, InputError
from huiju.i18n import Message, _

_DEV_SECRET = "huiju-development-only-secret"  # noqa: S105 - refused in production below
#: Shortest secret key accepted in production: 256 bits, the key size of HMAC-SHA256 (RFC 2104).
MIN_SECRET_BYTES = 32


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
    #: The worker's CPU priority (Unix niceness, 0 to 19): above 0 it yields the CPU to the web
    #: processes where both share a machine, so that people's pages come first and the background
    #: work (calls, timers, documents) takes the rest.
    worker_niceness: int = Field(default=10, ge=0, le=19)
    lang: Literal["zh_CN", "en"] = "zh_CN"
    certs_folder: Path | None = None
    certs_passphrase: str | None = None
    exchange_signing: bool = True
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    uploads_folder: Path | None = None
    public_url: str = ""
    upload_max_pixels: int = Field(default=50_000_000, gt=0)
    session_idle_minutes: float = Field(default=30, gt=0)
    session_max_hours: float = Field(default=12, gt=0)
    ratelimit_storage: str = ""
    signin_address_limit: str = "50 per 15 minutes"
    signin_slowdown_after: int = Field(default=5, ge=1)
    signin_max_delay: float = Field(default=60, gt=0)
    exchange_rate_limit: str = "600 per minute"
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 8702
    inbound_mtls: bool | None = None
    adapter_endpoints: dict[str, str] = Field(default_factory=dict)
    decision_query_after: str = "P1D"
    delivery_query_after: str = "PT10M"
    sandbox_data: Path | None = None
    sandbox_checkout_port: int = 8703
    sandbox_payer: Literal["at_once", "checkout"] = "at_once"

    @field_validator("decision_query_after", "delivery_query_after")
    @classmethod
    def _check_wait(cls, value: str) -> str:
        try:
            Wait.parse(value)
        except InputError as exc:
            raise ValueError(exc.text) from None  # its words, in the reader's language (see _worded)
        return value

    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    health_timeout: float = Field(default=2.0, gt=0)
    health_outbox_age: float = Field(default=600.0, gt=0)
    health_outbox_depth: int = Field(default=10_000, gt=0)
    metrics_token: str | None = None
    demo_postgres_port: int = 8704
    demo_redis_port: int = 8705

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.env == "production" and self.secret_key == _DEV_SECRET:
            raise ConfigurationError(_("HUIJU_SECRET_KEY must be set when HUIJU_ENV=production"))
        if self.env == "production" and len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                _("HUIJU_SECRET_KEY must be at least {n} bytes long in production (e.g. from "
                  "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)", n=MIN_SECRET_BYTES)
            )  # fmt: skip
        if self.resolved_ratelimit_storage.split(":", 1)[0] not in ("memory", "redis", "rediss", "redis+sentinel"):
            raise ConfigurationError(
                _("HUIJU_RATELIMIT_STORAGE must be memory:// or redis://..., not {uri}", uri=self.ratelimit_storage)
            )
        return self

    @property
    def resolved_ratelimit_storage(self) -> str:
        """Counters shared by every web process when scaled out: the Redis broker unless said otherwise;
        in the one embedded web process, in memory."""
        if self.ratelimit_storage:
            return self.ratelimit_storage
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else "memory://"

    @property
    def secure_mode(self) -> bool:
        """Signed messages, mutual TLS, https:// endpoints only (``HUIJU_EXCHANGE_SIGNING``)."""
        return self.exchange_signing

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def resolved_inbound_mtls(self) -> bool:
        """Whether callbacks must arrive over mutual TLS: in secure mode, except in test runs that
        post to the endpoint in-process (unless HUIJU_INBOUND_MTLS says otherwise)."""
        if self.inbound_mtls is not None:
            return self.inbound_mtls
        return self.secure_mode and self.env != "test"

    @property
    def inbound_url(self) -> str:
        """Where the systems send their callbacks (https:// in secure mode)."""
        scheme = "https" if self.resolved_inbound_mtls else "http"
        port = self.inbound_port if self.resolved_inbound_mtls else self.web_port
        host = self.inbound_host if self.resolved_inbound_mtls else self.web_host
        return f"{scheme}://{host}:{port}/exchange/soap"

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
    def resolved_sandbox_data(self) -> Path:
        return (self.sandbox_data or self.instance_path / "sandbox").resolve()

    @property
    def sandbox_url(self) -> str:
        # Secure mode (signed messages) also means HTTPS with client certificates.
        scheme = "https" if self.exchange_signing else "http"
        return f"{scheme}://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def sandbox_checkout_url(self) -> str:
        """Where the sandbox's payment platform serves its checkout pages (plain HTTP, see above)."""
        return f"http://{self.sandbox_host}:{self.sandbox_checkout_port}"

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
    except ValidationError as exc:
        raise ConfigurationError(_("invalid Huiju setting: {error}", error=_worded(exc))) from exc
    except ValueError as exc:
        raise ConfigurationError(_("invalid Huiju setting: {error}", error=str(exc))) from exc


def _worded(exc: ValidationError) -> Message:
    """What is wrong with each setting, by its variable and the value given, in the reader's words
    where the kind of error is a common one (the checker's own text otherwise)."""
    said: Message | None = None
    for error in exc.errors():
        limits = error.get("ctx") or {}
        worded = _PROBLEMS.get(error["type"])
        cause = limits.get("error")
        if worded is not None:
            problem = worded(limits)
        elif isinstance(cause, ValueError) and cause.args and isinstance(cause.args[0], Message):
            problem = cause.args[0]  # a validator's own words
        else:
            problem = _("{text}", text=error["msg"])
        field = ".".join(str(part) for part in error["loc"]).upper()
        if field:
            problem = _("HUIJU_{name} = “{value}”: {problem}", name=field, value=str(error.get("input"))[:80],
                        problem=problem)  # fmt: skip
        said = problem if said is None else _("{first}; {second}", first=said, second=problem)
    return said if said is not None else _("{text}", text=str(exc))


def _number(value: Any) -> Any:
    """A bound as people write it: 0, not 0.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: The words of the common kinds of pydantic's errors, given the error's context (its bounds); the
#: others keep pydantic's own text.
_PROBLEMS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "int_parsing": lambda _limits: _("a whole number is expected"),
    "float_parsing": lambda _limits: _("a number is expected"),
    "bool_parsing": lambda _limits: _("true or false is expected"),
    "less_than_equal": lambda limits: _("at most {limit} is allowed", limit=_number(limits.get("le"))),
    "greater_than_equal": lambda limits: _("at least {limit} is needed", limit=_number(limits.get("ge"))),
    "greater_than": lambda limits: _("more than {limit} is needed", limit=_number(limits.get("gt"))),
    "less_than": lambda limits: _("less than {limit} is allowed", limit=_number(limits.get("lt"))),
    "literal_error": lambda limits: _("one of {expected} is expected", expected=limits.get("expected")),
}
