"""Searching what a customer channel shows. The index holds every card's current wording and internal
notes, so a hit is kept only if the words the channel shows of it contain a searched term: nobody
learns what a card's notes or pending edit say by searching for them (FAQ search, public API search)."""
from flask import current_app

from kb import markup
from kb.search import analysis, query
from kb.search import index as search_index


def query_terms(text, table):
    """Every term the search may have matched for `text`: its words, their synonyms and the spellings a
    typo was corrected to (the same steps as `kb.search.query`)."""
    language = search_index.language()
    parsed = query.parse(text, language, current_app.config["SEARCH_MAX_QUERY_CHARS"])
    groups = query.apply_synonyms(parsed.groups, table)
    query.correct_typos(query.searcher().reader(), groups, language)
    return {stem for g in groups for alt in (g.alternatives or [g.stems]) for stem in alt}


def shown_terms(title, text, tags=()):
    """The terms of what a channel shows of a card (title, answer as text, tags)."""
    return set(analysis.words(" ".join([title, text, *tags]), search_index.language()))


def revision_terms(revision):
    return shown_terms(revision.title, markup.strip_markdown(revision.answer), revision.tags)


def readable_suggestion(did_you_mean, terms):
    """"Did you mean" only when customers can read its words in the results (its suggestions come from
    every card, internal ones included)."""
    if not did_you_mean:
        return None
    suggested = set(analysis.words(did_you_mean, search_index.language()))
    return did_you_mean if suggested and suggested <= terms else None
