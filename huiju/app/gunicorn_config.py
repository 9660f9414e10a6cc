"""gunicorn's settings for Huiju's web process (``gunicorn -c python:huiju.app.gunicorn_config``).

Where it listens comes from ``HUIJU_WEB_HOST`` and ``HUIJU_WEB_PORT``; the number of processes from
the command line (``huiju serve --processes N``). Threads serve the requests of a process, so that a
slow answer (an upload, a report) does not hold up the others; each process listens on the port
itself (``reuse_port``), so that connections are spread evenly over the processes. gunicorn's own records go through
Huiju's log handler (JSON in production). In secure mode the inbound endpoint's mutual-TLS listener
is one process of its own (``huiju serve-inbound``: gunicorn's processes share only the web port),
started and stopped by gunicorn's master.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

from huiju.logs import log_format
from huiju.settings import load_settings

_settings = load_settings()

bind = f"{_settings.web_host}:{_settings.web_port}"
worker_class = "gthread"
# Each process listens with SO_REUSEPORT, and the kernel spreads new connections evenly over them.
# On one shared socket, the process awake first took most of a burst of new connections, and
# kept them while the clients kept them alive: one process ran flat out while the other idled.
# (`huiju serve` refuses a port anything listens on, which another such server would share.)
reuse_port = True
threads = 4
# Each process touches a heartbeat file at every turn of its loop (many times a request): on tmpfs
# that changes a time in memory; in /tmp on disk, every touch dirties an inode for the journal.
_TMPFS = "/dev/shm"  # noqa: S108 - gunicorn makes its file there with mkstemp (a name of its own, 0600)
worker_tmp_dir = _TMPFS if os.path.isdir(_TMPFS) and os.access(_TMPFS, os.W_OK) else None
graceful_timeout = 10
timeout = 60
accesslog = None
# No control socket (gunicorn 25.1+): several Huiju servers on one host would share its one path.
control_socket_disable = True
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "huiju.logs.ContextFilter"}},
    "formatters": {
        "huiju": {"()": "huiju.logs.JsonFormatter" if log_format(_settings) == "json" else "huiju.logs.TextFormatter"}
    },
    "handlers": {
        "huiju": {
            "class": "logging.StreamHandler",
            "formatter": "huiju",
            "filters": ["context"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": _settings.log_level, "handlers": ["huiju"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    },
}


_inbound: subprocess.Popen[bytes] | None = None


def on_starting(server: Any) -> None:
    global _inbound
    if _settings.resolved_inbound_mtls:
        _inbound = subprocess.Popen([sys.executable, "-m", "huiju.cli", "serve-inbound"])  # noqa: S603


def post_worker_init(worker: Any) -> None:
    """Once the process has loaded the application: what it loaded lives as long as the process, so
    the garbage collector stops looking at it. A full collection looked through some 240,000 objects
    (about 80 ms, every thread of the process stopped); now only through what requests have made."""
    gc.freeze()


def on_exit(server: Any) -> None:
    if _inbound is not None and _inbound.poll() is None:
        _inbound.terminate()
        try:
            _inbound.wait(10)
        except subprocess.TimeoutExpired:
            _inbound.kill()
