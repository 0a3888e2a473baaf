"""Default settings. Override in `instance/config.py` or with `KB_<NAME>` environment variables."""
from datetime import timedelta

# Behind a reverse proxy: how many proxies in front set each X-Forwarded-* header (For, Proto, Host, Prefix).
# 0 ignores it (the default: anyone can send these headers). Typical nginx in front: 1, 1, 1, 0.
PROXY_FIX_X_FOR = 0
PROXY_FIX_X_PROTO = 0
PROXY_FIX_X_HOST = 0
PROXY_FIX_X_PREFIX = 0

# Logs on stderr: "text" for people, "json" (one object a line) for collectors; and the level. Every line
# carries the request id (X-Request-ID, echoed in the response), and each request ends with a `request` line.
LOG_FORMAT = "text"
LOG_LEVEL = "INFO"

# Required in production: a long random string. `make run` writes one into instance/config.py.
SECRET_KEY = None
# SQLAlchemy URL; default is SQLite at instance/kb.sqlite. PostgreSQL: postgresql://user:pw@host/db
DATABASE_URL = None
# Where the search index lives; default instance/search-index.
INDEX_DIR = None
# The semantic layer's vectors on this host (kb/search/vectors.py); by default beside INDEX_DIR.
VECTORS_DIR = None

SQLALCHEMY_TRACK_MODIFICATIONS = False

# Cookies: secure by default; set KB_SESSION_COOKIE_SECURE=false only for plain-HTTP trials.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# "Keep me signed in" lasts this long (a timedelta, or seconds from the environment); signing out or a new
# password ends it sooner, on every device. None: secure exactly when the session cookie is.
REMEMBER_COOKIE_DURATION = timedelta(days=14)
REMEMBER_COOKIE_SECURE = None
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
# Refused sign-ins allowed (Flask-Limiter syntax) per client address and per account (e-mail) before the
# sign-in page answers 429 for a while; successful sign-ins do not count.
LOGIN_RATE_LIMIT_ADDRESS = "10 per minute"
LOGIN_RATE_LIMIT_ACCOUNT = "5 per minute"
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

# Cohorts (kb.accounts.cohort): a CSV import of hires is at most this large, and the set-password link each
# new account gets works for this many days (once).
COHORT_MAX_BYTES = 5 * 1024 * 1024
COHORT_MAX_ROWS = 20_000
PASSWORD_LINK_DAYS = 7

# Verification: a card is "due soon" this many days before its verification lapses.
WARNING_DAYS = 7

# A card that stays "needs verification" this many days is escalated to its team's leads (or the admins).
ESCALATE_AFTER_DAYS = 14

# E-mail. Without MAIL_SERVER, messages are written as .eml files to instance/outbox instead.
MAIL_SERVER = None
MAIL_PORT = 25
MAIL_USE_TLS = False
MAIL_USE_SSL = False
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_FROM = "kb@localhost"
# The address people use to reach this site, for links in e-mails.
EXTERNAL_URL = "http://127.0.0.1:5000"

# Times are stored in UTC and shown in this zone (an IANA name).
TIMEZONE = "UTC"

BRAND_NAME = "kb"

# Search. The language of Latin-script text for stemming and stop words ("en", "ro", "fr", "de", …);
# Cyrillic words are always analysed as Russian. Changing it needs `kb reindex`.
SEARCH_LANGUAGE = "en"
# How long a write waits for another process's index lock before leaving its change to the feed
# (the next search or `kb index-status --sync` applies it). Seconds.
SEARCH_WRITER_TIMEOUT = 5.0
# A search that finds the index behind the change feed catches up first if the index lock is free; held,
# another worker is applying the feed right now, and waiting this long for it (0.5 s before) stalled every
# search during each edit's commit: under issue 12's load, suggest p95 762 -> 388 ms with 0.
SEARCH_CATCHUP_TIMEOUT = 0.0
# The sentence embedding model of the semantic layer (kb/search/embedding.py), by name; None or "" turns it
# off. A model that is missing or fails its checksums is refused with a reason (health, `kb index-status`)
# and search stays lexical. Built graphs are kept in SEARCH_MODEL_CACHE (default ~/.cache/kb/models).
SEARCH_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
SEARCH_MODEL_CACHE = None
# Threads of the background embedding after a rebuild (None: one per core), at a lower CPU priority than
# the web workers. A search embeds its query on one thread.
SEARCH_EMBED_THREADS = None
# Apply the change feed to the index right after every commit that changed a card.
SEARCH_SYNC_ON_COMMIT = True
# Memory for a full rebuild's posting pool, per indexing process (MB): beyond it postings spill to disk.
SEARCH_INDEX_MEMORY_MB = 2048
# Decoded posting lists kept in memory per worker process (MB), least recently used out first. A warm
# search touches only these; a term read for the first time since a restart or a merge costs ~1 ms per
# 2,000 cards holding it (see bench/search_bench.py).
SEARCH_CACHE_MB = 256
# Longest query text considered; the rest is ignored (and the user told).
SEARCH_MAX_QUERY_CHARS = 300

# Channels (kb.channels.serving). A card needing verification keeps serving its last verified revision
# to the chatbot and the FAQ until its verification has been lapsed this many days, then is withheld.
CHANNEL_GRACE_DAYS = 14
# Channels that stop serving a card as soon as an agent flags it ("chatbot", "faq").
CHANNEL_WITHHOLD_FLAGGED = ("chatbot",)
# Requests per API caller (token, else signed-in user, else address), Flask-Limiter syntax. Counted per
# worker process unless RATELIMIT_STORAGE_URI (read by Flask-Limiter) points at a store all workers and
# hosts share, e.g. "redis://redis.internal:6379" (needs the `redis` package) or "memcached://host:11211".
API_RATE_LIMIT = "600 per minute"
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
# Stated, not left to Flask-Limiter's default: its one Limiter keeps the last app's setting otherwise, so
# an app built with limits off (a test, a bench) would switch them off for every later app in the process.
RATELIMIT_ENABLED = True
# /api/v1/answer answers only when the best served card holds at least this share of the question's
# words, weighed by rarity, in its verified title, answer and tags, and scores at least API_ANSWER_MARGIN
# times the next served card; otherwise `no_verified_answer` with suggestions (see bench/answers.py).
API_ANSWER_MIN_COVERAGE = 0.75
API_ANSWER_MARGIN = 1.2
# ... or, in other words than the card's (a paraphrase), is this close in meaning to the served question
# and answer (cosine similarity of the embedding model) and closer by API_ANSWER_SIMILARITY_LEAD than the
# next candidate. Off-topic questions stay below it and are handed over.
API_ANSWER_MIN_SIMILARITY = 0.7
API_ANSWER_SIMILARITY_LEAD = 0.05
# /api/v1/health reports "degraded" while the index is more than this many changes behind.
API_HEALTH_MAX_LAG = 100

# Public FAQ (/faq, no login): name, colour (#rrggbb) and logo URL ("" = none) shown to customers, and how
# long browsers and proxies may keep a page before asking again (pages carry ETag and Last-Modified).
FAQ_BRAND_NAME = "Help centre"
FAQ_BRAND_COLOR = "#1f6feb"
FAQ_LOGO_URL = ""
FAQ_CACHE_SECONDS = 300

# Periodic jobs (kb.jobs): `kb run` runs them in a background thread, `kb worker` on their own. A lease in
# the database lets one process at a time run each job, however many workers or hosts run them.
JOBS_ENABLED = True
# The first round waits this long after start; the staleness check then runs at once unless some process
# started it in the last five minutes.
JOBS_FIRST_RUN_DELAY_SECONDS = 5
# The staleness check, with lapse, due-soon and escalation notifications and their e-mail (minutes).
JOBS_CHECK_MINUTES = 30
# The weekly digest, local time (TIMEZONE). A process that starts later in the week sends it then, if this
# week's digest has not gone out.
JOBS_DIGEST_AT = "MON 07:00"
# This host's search index: apply the change feed this often (seconds), merge its segments daily (local time).
JOBS_INDEX_FEED_SECONDS = 60
JOBS_INDEX_OPTIMIZE_AT = "03:30"
# Onboarding reminders: how often the job looks (minutes; each hire hears at most once a day), and how long
# before a path's due date a hire who has not finished is reminded (hours).
JOBS_REMINDER_MINUTES = 60
ONBOARDING_REMIND_BEFORE_HOURS = 24
# Cards of people whose account ended (expired or deactivated) are handed to their team this often (minutes).
JOBS_HANDOVER_MINUTES = 60
# E-mail that failed, or was queued while another process was sending, is retried this often (minutes).
JOBS_MAIL_MINUTES = 5
# A lease lasts this long and its process renews it while the job runs: a process that died holding one
# blocks its job for at most this long.
JOBS_LEASE_SECONDS = 120

# Single sign-on (OpenID Connect, kb.accounts.sso). None = off: no button, /login/sso is 404. Otherwise the
# provider's issuer URL; its discovery document is read from <issuer>/.well-known/openid-configuration.
OIDC_ISSUER = None
# The client registered with the provider; its redirect URI is <this site>/login/sso/callback.
OIDC_CLIENT_ID = None
OIDC_CLIENT_SECRET = None
OIDC_SCOPES = "openid email profile"
# Team that accounts created at their first sign-in join (created if missing); None = no team.
OIDC_TEAM = None
# Role of accounts created at their first sign-in: "agent", "expert" or "admin" (only if set here).
OIDC_ROLE = "agent"
# E-mail domains allowed to sign in ("example.com", exact match; a sub-domain must be listed itself). Empty
# lets nobody in: the provider may vouch for people outside the company. From the environment, a JSON list
# or a comma-separated string: KB_OIDC_ALLOWED_DOMAINS=example.com,example.org
OIDC_ALLOWED_DOMAINS = ()
OIDC_BUTTON_LABEL = "Sign in with SSO"
# Last day (ISO date, "2025-01-15") of accounts created at their first sign-in, for a seasonal cohort; None = no end.
OIDC_EXPIRES_ON = None
