"""Full-text search: a Whoosh index that is a projection of the database.

Every Whoosh call lives in this package (`analysis`, `index`, `query`), so that a move to another
engine touches one place. The rest of kb calls `kb.search.index.sync/reindex/status` and
`kb.search.query.search`.
"""
