"""Full-text search: a Whoosh index that is a projection of the database.

Every Whoosh call lives in this package (`analysis`, `index`, `engine`, `query`), so that a move to another
engine touches one place. The rest of kb calls `kb.search.index.apply_feed/reindex/status`,
`kb.search.query.search` (agents) and, for customers, `kb.channels.finding.public_search`. While a corrupt
index is rebuilt (`index.reading`), searches raise `index.Rebuilding`, which each channel shows as a notice.
"""
import whoosh

# kb reads Whoosh's internals (the array scorer's postings and lengths, the index's segment handling) as
# this release lays them out; tests/test_scorer_equivalence.py checks the scores against Whoosh's own.
WHOOSH_VERSION = (2, 7, 5)


def check_whoosh(installed=whoosh.__version__):
    """Refuse, at import, a Whoosh whose internals kb has not been checked against."""
    if tuple(installed[:3]) != WHOOSH_VERSION:
        found = ".".join(map(str, installed))
        raise ImportError(f"kb's search needs whoosh-reloaded {'.'.join(map(str, WHOOSH_VERSION))} (it reads its "
                          f"internals); {found} is installed: pip install whoosh-reloaded==2.7.5")


check_whoosh()
