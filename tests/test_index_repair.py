"""A corrupted index repairs itself: every search says "being rebuilt" (never an error page) while a new
generation is built from the database in the background, and then finds the cards again."""
import gc
import json
import os
import time

import pytest

from kb.cards import operations
from kb.extensions import db
from kb.models import Card
from kb.search import index as si
from kb.search import query

# Whoosh leaves a file open when a damaged segment fails to open; it is closed when collected.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning")

NOTICE = "Search is being rebuilt after a problem with the index"
KINDS = ["truncated segment", "garbage segment", "missing segment", "empty segment", "garbage toc", "empty toc",
         "missing generation"]


@pytest.fixture(autouse=True)
def collect_leaked_files():
    yield
    gc.collect()  # while this module's warning filters apply


def corrupt(root, kind):
    """Damage the live generation of the index at `root` as a failing disk or a stray process would."""
    generation = os.path.join(root, si.current_generation(root))
    names = os.listdir(generation)
    # Segments are plain files (kb.search.index.COMPOUND): damage the largest one's term dictionary, which
    # every reader opens first.
    segment = os.path.join(generation, max((n for n in names if n.endswith(".trm")),
                                           key=lambda n: os.path.getsize(os.path.join(generation, n))))
    toc = os.path.join(generation, max(n for n in names if n.endswith(".toc")))
    size = os.path.getsize(segment)
    if kind == "truncated segment":
        os.truncate(segment, size // 2)
    elif kind == "garbage segment":
        with open(segment, "r+b") as handle:
            handle.write(os.urandom(size))
    elif kind == "missing segment":
        os.remove(segment)
    elif kind == "empty segment":
        os.truncate(segment, 0)
    elif kind == "garbage toc":
        with open(toc, "wb") as handle:
            handle.write(b"not a table of contents" * 10)
    elif kind == "empty toc":
        os.truncate(toc, 0)
    elif kind == "missing generation":
        with open(os.path.join(root, "CURRENT"), "w") as handle:
            handle.write("gen-20000101000000000000")
    else:
        raise ValueError(kind)


def found(text):
    query._cache.clear()
    return [h.id for h in query.search(text).hits]


@pytest.fixture
def served(app, world):
    """The billing card verified (so that the FAQ and the chatbot serve it), a chatbot token, and the
    index merged into one segment file (each kind of damage then hits the one segment). No search here:
    the damage is found as a worker finds it when it next opens the index (a segment file truncated
    under a worker's open memory map is a SIGBUS, not an exception: that worker dies and is restarted)."""
    from kb.channels import tokens

    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        operations.verify_card(card, card.owner)
        _, secret = tokens.create("chatbot", [tokens.PUBLIC_READ])
        db.session.commit()
        si.optimize()
        assert si.status()["documents"] == 2 and si.status()["segments"] == 1
    return {"card_id": world["billing_card"].id, "bearer": {"Authorization": f"Bearer {secret}"}}


def wait_for_new_generation(root, old, timeout=60):
    """Until the rebuild has committed its new generation (it then waits for the swap lock we hold)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        newer = [n for n in os.listdir(root) if n.startswith("gen-") and n > old]
        # Its first TOC is the empty index it creates; a later one is its commit of every card.
        if newer and any(f.endswith(".toc") and f != "_MAIN_0.toc" for f in os.listdir(os.path.join(root, newer[0]))):
            return newer[0]
        time.sleep(0.05)
    raise AssertionError("the rebuild did not build a new generation")


@pytest.mark.parametrize("kind", KINDS)
def test_every_search_says_rebuilding_until_the_rebuilt_index_finds_the_cards_again(
        app, world, served, client, auth, runner, kind):
    root = app.config["INDEX_DIR"]
    corrupt(root, kind)
    broken = si.current_generation(root)
    auth.login("agent@example.com")
    with si._swap_lock(root):  # the rebuild builds, then waits here: search is "rebuilding" meanwhile
        page = client.get("/search?q=refunds")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and NOTICE in html and 'data-testid="search-rebuilding"' in html
        assert "How do refunds work?" in html  # found by its title in the database meanwhile

        typed = client.get("/api/v1/search?q=refu&prefix=1&limit=8")  # the agents' as-you-type box
        assert typed.status_code == 200
        assert typed.json["results"] == [] and typed.json["notice"].startswith(NOTICE)

        faq = client.get("/faq/?q=refunds")
        assert faq.status_code == 503 and faq.headers["Retry-After"].isdigit()
        assert "no-store" in faq.headers["Cache-Control"]
        html = faq.get_data(as_text=True)
        assert NOTICE in html and app.config["FAQ_BRAND_NAME"] in html and "browse all topics" in html
        assert "How do refunds work?" in html  # its served question has the words, found in the database
        internal = client.get("/faq/?q=How long does shipping take").get_data(as_text=True)  # not public
        assert NOTICE in internal and f"/faq/cards/{world['shipping_card'].id}" not in internal
        assert '<ol class="faq-results">' not in internal

        for url in ("/api/v1/search?q=refunds", "/api/v1/answer?q=How do refunds work?"):
            api = client.get(url, headers=served["bearer"])
            assert api.status_code == 503, url
            assert api.json["error"]["code"] == "search_rebuilding" and api.headers["Retry-After"].isdigit()

        health = client.get("/api/v1/health")
        assert health.status_code == 200
        assert health.json["status"] == "degraded" and health.json["index"]["status"] == "rebuilding"

        status = runner.invoke(args=["index-status"])
        assert status.exit_code == 1 and "rebuilding" in status.output

        assert not si.wait_for_rebuild(0)  # one rebuild, still running
    assert si.wait_for_rebuild(60)
    with app.app_context():
        assert si.current_generation(root) != broken and not os.path.exists(os.path.join(root, broken))
        assert found("refunds") == [served["card_id"]]
        assert found("shipping") == [world["shipping_card"].id]
        assert si.status()["state"] == "ok" and si.status()["lag"] == 0
    assert served["card_id"] in [r["id"] for r in client.get("/api/v1/search?q=refunds",
                                                               headers=served["bearer"]).json["results"]]
    assert client.get("/api/v1/answer?q=How do refunds work?", headers=served["bearer"]).status_code == 200
    faq = client.get("/faq/?q=refunds")
    assert faq.status_code == 200 and "How do refunds work?" in faq.get_data(as_text=True)
    assert client.get("/api/v1/health").json["index"]["status"] == "ok"


@pytest.mark.parametrize("kind", KINDS)
def test_an_edit_made_during_the_rebuild_is_found_after_it(app, world, served, client, kind):
    root = app.config["INDEX_DIR"]
    broken = si.current_generation(root)
    corrupt(root, kind)
    with si._swap_lock(root):
        with app.app_context():
            with pytest.raises(si.Rebuilding):
                found("refunds")  # detects the damage and starts the rebuild
            wait_for_new_generation(root, broken)  # built from the database as it was: the edit is later
            card = db.session.get(Card, world["shipping_card"].id)
            operations.edit_card(card, author=card.owner, answer="Parcels to Iceland take a walrus week.")
            db.session.commit()  # into the feed only: the index is being rebuilt
    assert si.wait_for_rebuild(60)
    with app.app_context():
        assert found("walrus") == [world["shipping_card"].id]
        assert si.status()["lag"] == 0


def test_index_status_calls_an_index_nobody_is_rebuilding_corrupt_and_leaves_it_to_the_app(app, world, served,
                                                                                            runner, client):
    root = app.config["INDEX_DIR"]
    corrupt(root, "garbage toc")
    result = runner.invoke(args=["index-status", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["state"] == "corrupt"
    assert si.wait_for_rebuild(0)  # the command started nothing: its process would not see it through
    assert client.get("/api/v1/health").json["index"]["status"] in ("rebuilding", "ok")  # the app does
    assert si.wait_for_rebuild(60)
    result = runner.invoke(args=["index-status", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["state"] == "ok"


def test_a_failure_that_goes_away_when_read_again_is_not_corruption(app, world, served, tmp_path):
    """A reader racing a writer can fail once in Whoosh; read again on a freshly opened index it answers,
    and nothing is rebuilt."""
    from whoosh import index

    failures = []

    def racing():
        if not failures:
            failures.append(1)
            index.open_dir(str(tmp_path))  # no index there: Whoosh raises, as it can mid-swap
        return "answered"

    with app.app_context():
        generation = si.current_generation(app.config["INDEX_DIR"])
        assert si.reading(racing) == "answered" and failures
        assert not si.is_rebuilding() and si.wait_for_rebuild(0)
        assert si.current_generation(app.config["INDEX_DIR"]) == generation


def test_an_error_of_kb_own_code_is_raised_not_taken_for_corruption(app, world, served):
    def buggy():
        return {}["missing"]

    with app.app_context():
        with pytest.raises(KeyError):
            si.reading(buggy)
        assert not si.is_rebuilding() and si.wait_for_rebuild(0)


def test_the_title_fallback_meanwhile_reads_any_input_as_plain_words(app, world, served, client, auth):
    corrupt(app.config["INDEX_DIR"], "garbage toc")
    auth.login("agent@example.com")
    with si._swap_lock(app.config["INDEX_DIR"]):
        # (A NUL never gets this far: every route refuses control characters first, tests/test_hostile_input.py.)
        assert client.get("/search", query_string={"q": "refunds\x00"}).status_code == 400
        for q in ("REFUNDS work", "refunds%", "%", "_", "\u202erefunds", "-refunds OR \"how", "x" * 5000):
            page = client.get("/search", query_string={"q": q})
            assert page.status_code == 200, q
            html = page.get_data(as_text=True)
            assert NOTICE in html, q
            assert ("How do refunds work?" in html) == (q in ("REFUNDS work", "\u202erefunds")), q
        assert "How long does shipping take?" not in client.get("/search?q=refunds").get_data(as_text=True)
    assert si.wait_for_rebuild(60)


def test_the_editor_duplicate_check_and_the_trust_dashboard_carry_on_meanwhile(app, world, served, client, auth):
    corrupt(app.config["INDEX_DIR"], "empty segment")
    auth.login("admin@example.com")
    with si._swap_lock(app.config["INDEX_DIR"]):
        similar = client.get("/search/similar?title=How do refunds work")
        assert similar.status_code == 200 and similar.json["results"] == []
        dashboard = client.get("/verification/dashboard")
        assert dashboard.status_code == 200 and "Possible conflicts" in dashboard.get_data(as_text=True)
    assert si.wait_for_rebuild(60)
    with app.app_context():
        assert found("refunds") == [served["card_id"]]


def test_one_rebuild_per_host_the_others_say_rebuilding_until_it_is_swapped_in(app, world, served, client):
    root = app.config["INDEX_DIR"]
    corrupt(root, "garbage segment")
    broken = si.current_generation(root)
    with si._rebuild_lock(root) as mine:  # another process on this host is rebuilding
        assert mine
        with app.app_context():
            with pytest.raises(si.Rebuilding):
                found("refunds")
            assert si.wait_for_rebuild(60)  # this process's attempt found the lock taken and left it
            assert si.current_generation(root) == broken and si.is_rebuilding()
            assert client.get("/api/v1/health").json["index"]["status"] == "rebuilding"
            si.reindex(root)  # what the other process does, then swaps in
        with app.app_context():
            assert found("refunds") == [served["card_id"]] and not si.is_rebuilding()
