"""WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app` (`make serve`). Refuses to start without a
database (`kb init` creates or migrates it), rather than serve a new empty one."""
from kb import create_app
from kb.extensions import require_database

app = create_app()
require_database(app)
