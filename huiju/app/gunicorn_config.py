"""gunicorn's settings for Huiju's web process (``gunicorn -c python:huiju.app.gunicorn_config``).

Where it listens comes from ``HUIJU_WEB_HOST`` and ``HUIJU_WEB_PORT``; the number of processes from
the command line (``huiju serve --processes N``). Threads serve the requests of a process, so that a
slow answer (an upload, a report) does not hold up the others. gunicorn's own records go through
Huiju's log handler (JSON in production).
"""

from __future__ import annotations

from huiju.logs import log_format
from huiju.settings import load_settings

_settings = load_settings()

bind = f"{_settings.web_host}:{_settings.web_port}"
worker_class = "gthread"
threads = 4
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
