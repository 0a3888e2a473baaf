"""Default settings. Override in `instance/config.py` or with `KB_<NAME>` environment variables."""
from datetime import timedelta

# Required in production: a long random string. `make run` writes one into instance/config.py.
SECRET_KEY = None
# SQLAlchemy URL; default is SQLite at instance/kb.sqlite. PostgreSQL: postgresql://user:pw@host/db
DATABASE_URL = None
# Where the search index lives; default instance/search-index.
INDEX_DIR = None

SQLALCHEMY_TRACK_MODIFICATIONS = False

# Cookies: secure by default; set KB_SESSION_COOKIE_SECURE=false only for plain-HTTP trials.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_SECURE = True
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
# CSRF tokens live as long as the session: an editor may keep a card open for a long time.
WTF_CSRF_TIME_LIMIT = None

# Werkzeug password hash method; the test suite lowers the work factor to stay fast.
PASSWORD_HASH_METHOD = "scrypt"

# Largest request body (card forms, previews): 2 MB.
MAX_CONTENT_LENGTH = 2 * 1024 * 1024

# Card limits.
TITLE_MAX_CHARS = 200
ANSWER_MAX_CHARS = 20_000
NOTES_MAX_CHARS = 20_000
TAG_MAX_CHARS = 40
TAGS_MAX = 20
INTERVAL_PRESETS = (7, 30, 90, 180, 365)
INTERVAL_MAX_DAYS = 3650

# Verification: a card is "due soon" this many days before its verification lapses.
WARNING_DAYS = 7

# Times are stored in UTC and shown in this zone (an IANA name).
TIMEZONE = "UTC"

BRAND_NAME = "kb"
