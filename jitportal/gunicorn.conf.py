"""gunicorn's settings for the portal (`make prod`); each can be overridden by the environment named here.

Pages wait on Azure (I/O), not on the CPU: a few processes, each with threads, carry many people.
"""

import os

bind = [os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")]
worker_class = "gthread"
# One process per core; each thread serves one request at a time, mostly waiting on Azure.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
threads = int(os.environ.get("WEB_THREADS", "8"))
# A worker that does not check in for this long is killed and replaced. A page may wait on Azure:
# AZURE_TIMEOUT_SECONDS (30) per call, a policy lease wait (15) and a read back after a lost answer.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
# On SIGTERM (a deploy), requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
# Longer than a load balancer's idle timeout is wrong; shorter only costs a reconnect.
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
# The portal logs each request as JSON itself (core/logs.py); gunicorn's own lines (start, worker
# restarts, timeouts) are JSON on stdout too, so that every line of the instance is one object.
accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
# Behind a load balancer that terminates TLS: which proxy addresses may set X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket sits at one path per user: two instances on one machine would take each other's.
# Nothing here uses it; instances are stopped with SIGTERM.
control_socket_disable = True
