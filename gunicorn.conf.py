"""gunicorn settings for kb: `make serve`, or `gunicorn -c gunicorn.conf.py wsgi:app` beside wsgi.py.

Each setting below reads KB_GUNICORN_<NAME> from the environment (KB_GUNICORN_WORKERS=4, KB_GUNICORN_BIND=…),
and gunicorn's own GUNICORN_CMD_ARGS and command-line options override this file. The web workers do not run
the periodic jobs (staleness check, digest, index upkeep, mail retries): run `kb worker` beside them.
"""
import multiprocessing
import os


def _env(name, default, cast=str):
    value = os.environ.get(f"KB_GUNICORN_{name}")
    return default if value in (None, "") else cast(value)


def _flag(value):
    return str(value).lower() in ("1", "true", "yes", "on")


bind = _env("BIND", "127.0.0.1:8000")
# The master's pid, for `kill -HUP` (new code and settings, workers replaced gracefully) after an upgrade.
pidfile = _env("PIDFILE", None)
# gunicorn's rule of thumb, (2 x cores) + 1, capped: every worker holds its own search index readers and
# posting cache (SEARCH_CACHE_MB) and its own database connections, so a big host would otherwise spend its
# memory on idle copies.
workers = _env("WORKERS", min(2 * multiprocessing.cpu_count() + 1, _env("MAX_WORKERS", 8, int)), int)
# One thread a worker (gunicorn's sync worker): kb's requests spend their time on the CPU (search,
# rendering), and threads in one process contend for its interpreter lock. Measured with
# bench/load_bench.py at 20,000 cards on 2 cores: search p95 600 ms with 1 thread, 716-930 ms with 4, and
# edits searchable at p95 0.8 s against 1.4 s. The sync worker needs a buffering reverse proxy in front
# (README, "Deploying"). KB_GUNICORN_THREADS=4 gives the gthread worker, for hosts whose database is
# far away (requests waiting on the network rather than the CPU).
threads = _env("THREADS", 1, int)
# A request that takes longer is killed and its worker replaced (searches take milliseconds; the longest
# pages, a lead's report or an import, take seconds).
timeout = _env("TIMEOUT", 60, int)
# On SIGTERM or a restart, requests in flight get this long to finish.
graceful_timeout = _env("GRACEFUL_TIMEOUT", 30, int)
# Behind a reverse proxy that reuses its connections; keep below the proxy's own idle timeout.
keepalive = _env("KEEPALIVE", 5, int)
# Replace each worker after this many requests (jitter spreads the restarts), so slow growth never adds up.
max_requests = _env("MAX_REQUESTS", 2000, int)
max_requests_jitter = _env("MAX_REQUESTS_JITTER", 200, int)
# False: each worker imports and builds the app itself, after the fork. The app's search index (readers,
# posting cache, writer lock) and database connections belong to one process and must not be shared by
# forked copies, and a worker replaced after max_requests or a HUP then loads the code afresh.
preload_app = _flag(_env("PRELOAD_APP", "false"))

# kb writes its own `request` line for every request (with the request id, user and duration; see
# kb/logs.py), so gunicorn's access log is off unless asked for (KB_GUNICORN_ACCESSLOG=- for stdout).
accesslog = _env("ACCESSLOG", None)
errorlog = _env("ERRORLOG", "-")
loglevel = _env("LOGLEVEL", os.environ.get("KB_LOG_LEVEL", "info")).lower()
access_log_format = _env("ACCESS_LOG_FORMAT", '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" id=%({x-request-id}o)s')

# KB_LOG_FORMAT=json (the app's setting, read from the environment here too): gunicorn's own lines are JSON
# objects as well, with the same keys as the app's.
if os.environ.get("KB_LOG_FORMAT", "").lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "kb.logs.JsonFormatter"}},
        "handlers": {
            "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error"], "propagate": False},
            # gunicorn logs access lines whenever a logging config is given: only if asked for, as above.
            "gunicorn.access": {"level": "INFO" if accesslog else "WARNING", "handlers": ["access"],
                                "propagate": False},
        },
        # No handler at the root: kb's loggers carry their own (kb/logs.py) and would print twice.
        "root": {"level": "WARNING", "handlers": []},
    }

# gunicorn 25+ opens a control socket in ~/.gunicorn/ by default: two kb sites on one host would share it.
# Off unless asked for (KB_GUNICORN_CONTROL_SOCKET=/run/kb/gunicorn.ctl); older gunicorns ignore both.
control_socket = _env("CONTROL_SOCKET", None)
control_socket_disable = control_socket is None
if control_socket is None:
    del control_socket


def post_worker_init(worker):
    """Each worker opens its search index, embedding model and vectors before it takes a request, so the
    first search after a start or a replacement (max_requests) costs what any search does."""
    from kb.search import query

    query.warm_up(worker.wsgi)
