"""gunicorn settings: ``gunicorn -c python:api.gunicorn_conf 'api.asgi:create_asgi_app()'``.

gunicorn's ``asgi`` worker reads every request on an event loop, so a client
that sends half a request and stalls holds a socket, not a thread; the
Falcon app then runs on `api.asgi`'s fixed pool of threads (each with its
own pika connection; gevent workers would leak them, dramatiq #381). With
the sync or gthread workers, 100 such clients stop the API for everyone
(measured: /api/health timed out after 10 s; with this worker it answers
in 0.06 s). A ``?wait=60`` request holds a pool thread, not the worker,
which keeps beating. The command line overrides any of these (``-w 4``).
"""

from poller import config as _config  # not `config`: gunicorn reads that name as a setting

bind = _config.get().api_bind  # TUBEPOLLER_API_BIND, checked with the other settings
worker_class = "asgi"
workers = 2
worker_connections = 1000  # open connections per worker, idle or stalled ones included
keepalive = 5
timeout = 90  # above the longest ?wait (60 s)
graceful_timeout = 70  # lets a waiting request finish on SIGTERM
