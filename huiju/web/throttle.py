"""One throttling mechanism (Flask-Limiter) for the portal, the console, the JSON API and the inbound
endpoint, with its storage declared in the settings (``HUIJU_RATELIMIT_STORAGE``: ``memory://`` for
the one embedded web process, ``redis://...`` shared by every web process when scaled out; the
Redis broker by default when there is one).

Failed sign-ins (OWASP ASVS 2.2.1) slow down, they do not lock out. Counted in a moving window of
15 minutes:

- per client address: past ``HUIJU_SIGNIN_ADDRESS_LIMIT`` failures, that address is refused (429)
  until the window moves on; it stops one client guessing many accounts, and blocks no one else;
- per account, from any address: past ``HUIJU_SIGNIN_SLOWDOWN_AFTER`` failures, each next attempt
  must wait after the last failure, 1 s and doubling up to ``HUIJU_SIGNIN_MAX_DELAY``. Guessing
  becomes slow, but nobody can lock a resident out at will: the right password always works once
  the short wait is over (the wait is told, as ``Retry-After``).

The user name is counted as typed (normalised), whether or not such an account exists, so that the
answers say nothing about which accounts exist.
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerSecond, parse
from limits.strategies import RateLimiter

from huiju.db import Database
from huiju.errors import HuijuError
from huiju.i18n import _
from huiju.runtime import Runtime
from huiju.settings import Settings

WINDOW = "15 minutes"
#: Failures counted per account in the window (a count, never a limit that blocks).
_COUNT_ITEM = parse(f"100000 per {WINDOW}")
_LIMITERS: weakref.WeakKeyDictionary[Database, Limiter] = weakref.WeakKeyDictionary()
EXTENSION = "huiju.throttle"


class TooManyAttempts(HuijuError):
    """A sign-in must wait (HTTP 429 with ``Retry-After``)."""

    code = "too-many-attempts"

    def __init__(self, retry_after: int, *, address: bool = False) -> None:
        if address:
            text = _("too many failed sign-ins from this address; try again in {seconds} seconds", seconds=retry_after)
        else:
            text = _("too many failed sign-ins for this account; try again in {seconds} seconds", seconds=retry_after)
        super().__init__(text, retry_after=retry_after)
        self.retry_after = retry_after


def limiter_for(runtime: Runtime) -> Limiter:
    """The runtime's one Limiter (every web app of the process shares its counters)."""
    found = _LIMITERS.get(runtime.db)
    if found is None:
        found = Limiter(
            get_remote_address,
            storage_uri=runtime.settings.resolved_ratelimit_storage,
            strategy="moving-window",
            key_prefix="huiju",
            headers_enabled=True,
        )
        _LIMITERS[runtime.db] = found
    return found


@dataclass
class SignInThrottle:
    limiter: Limiter
    settings: Settings

    @property
    def _strategy(self) -> RateLimiter:
        return self.limiter.limiter

    def check(self, account: str, address: str) -> None:
        """TooManyAttempts when this address, or this account, must wait before trying again."""
        address_item = parse(self.settings.signin_address_limit)
        if not self._strategy.test(address_item, "signin-address", address):
            raise TooManyAttempts(self._wait(address_item, "signin-address", address), address=True)
        delay = self._delay(account)
        if delay and not self._strategy.test(RateLimitItemPerSecond(1, delay), "signin-wait", account):
            raise TooManyAttempts(self._wait(RateLimitItemPerSecond(1, delay), "signin-wait", account))

    def failed(self, account: str, address: str) -> None:
        self._strategy.hit(parse(self.settings.signin_address_limit), "signin-address", address)
        self._strategy.hit(_COUNT_ITEM, "signin-account", account)
        delay = self._delay(account)
        if delay:
            self._strategy.hit(RateLimitItemPerSecond(1, delay), "signin-wait", account)

    def succeeded(self, account: str) -> None:
        """The right password: the account's count starts again (the address's does not)."""
        self._strategy.clear(_COUNT_ITEM, "signin-account", account)

    def failures(self, account: str) -> int:
        stats = self._strategy.get_window_stats(_COUNT_ITEM, "signin-account", account)
        return _COUNT_ITEM.amount - stats.remaining

    def _delay(self, account: str) -> int:
        extra = self.failures(account) - self.settings.signin_slowdown_after
        if extra < 0:
            return 0
        return int(min(self.settings.signin_max_delay, 2 ** min(extra, 30)))

    def _wait(self, item: object, *keys: str) -> int:
        stats = self._strategy.get_window_stats(item, *keys)  # type: ignore[arg-type]
        return max(1, math.ceil(stats.reset_time - time.time()))


def init_throttle(app: Flask, runtime: Runtime) -> SignInThrottle:
    """Bind the runtime's limiter to ``app`` and keep the sign-in throttle on it."""
    limiter = limiter_for(runtime)
    if limiter not in app.extensions.get("limiter", set()):
        limiter.init_app(app)
    throttle = SignInThrottle(limiter, runtime.settings)
    app.extensions[EXTENSION] = throttle
    return throttle


def throttle_of(app: Flask) -> SignInThrottle:
    found = app.extensions.get(EXTENSION)
    if not isinstance(found, SignInThrottle):
        raise RuntimeError("the sign-in throttle is not set up on this app (huiju.web.throttle.init_throttle)")
    return found
