"""Full-text search: a Whoosh index that is a projection of the database.

Every Whoosh call lives in this package (`analysis`, `index`, `engine`, `query`), so that a move to another
engine touches one place; every read of Whoosh's internals lives in `whoosh_internals`, which refuses, at
import, a Whoosh other than the release they were checked against. The rest of kb calls
`kb.search.index.apply_feed/reindex/status`, `kb.search.query.search` (agents) and, for customers,
`kb.channels.finding.public_search`. While a corrupt index is rebuilt (`index.reading`), searches raise
`index.Rebuilding`, which each channel shows as a notice.
"""
from kb.search.whoosh_internals import WHOOSH_VERSION, check_whoosh  # noqa: F401 — checked on import
