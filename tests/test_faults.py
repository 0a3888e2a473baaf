"""Faults a busy deployment meets: a worker killed with SIGKILL in the middle of edits (nothing committed is
lost, nothing half-written shows, the index catches up from the feed without a rebuild), and the database
going away and coming back (clear error pages, health says so, and recovery without a restart)."""
import multiprocessing
import os
import signal
import socket
import threading
import time

from sqlalchemy import func, select

from kb.cards import operations
from kb.extensions import db
from kb.models import Card, Revision, User
from kb.search import index as si
from kb.search import query


def found(words):
    """What the index holds for `words` (lexical only: these tests are about the index's content)."""
    from flask import current_app

    query._cache.clear()
    model, current_app.config["SEARCH_EMBEDDING_MODEL"] = current_app.config["SEARCH_EMBEDDING_MODEL"], None
    try:
        return [hit.id for hit in query.search(words).hits]
    finally:
        current_app.config["SEARCH_EMBEDDING_MODEL"] = model


def _edit_until_killed(settings, instance_path, card_id, progress_path):
    from kb import create_app

    app = create_app(settings, instance_path=instance_path)
    with app.app_context():
        for n in range(10_000):
            card = db.session.get(Card, card_id)
            operations.edit_card(card, author=db.session.get(User, card.owner_id), answer=f"kilo{n} answer text")
            db.session.commit()
            with open(progress_path, "a") as handle:  # written only once the commit returned
                handle.write(f"{n}\n")
                handle.flush()
                os.fsync(handle.fileno())


def test_a_worker_killed_during_edits_loses_nothing_committed(app, world, tmp_path):
    settings = {k: app.config[k] for k in ("TESTING", "SECRET_KEY", "PASSWORD_HASH_METHOD")}
    settings["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    card_id, progress = world["billing_card"].id, tmp_path / "committed.txt"
    with app.app_context():
        generation = si.current_generation(app.config["INDEX_DIR"])
    worker = multiprocessing.get_context("spawn").Process(
        target=_edit_until_killed, args=(settings, app.instance_path, card_id, str(progress)))
    worker.start()
    deadline = time.monotonic() + 120
    while not progress.exists() or len(progress.read_text().split()) < 8:
        assert worker.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)  # wherever it is: mid-commit, mid-index write, between edits
    worker.join(30)
    assert worker.exitcode == -signal.SIGKILL
    last_committed = int(progress.read_text().split()[-1])

    with app.app_context():
        card = db.session.get(Card, card_id)
        numbers = list(db.session.scalars(select(Revision.number).where(Revision.card_id == card_id)
                                          .order_by(Revision.number)))
        assert numbers == list(range(1, len(numbers) + 1)) and card.revision_number == numbers[-1]  # no gap, no half
        latest = db.session.scalar(select(Revision).filter_by(card_id=card_id, number=numbers[-1]))
        assert card.answer == latest.answer  # the card's columns and its newest revision agree
        shown = int(card.answer.split()[0].removeprefix("kilo"))
        assert shown >= last_committed  # a commit the worker saw return is there (maybe one more)
        assert len(numbers) == db.session.scalar(select(func.count()).select_from(Revision).filter_by(
            card_id=card_id))
        si.apply_feed()
        assert si.current_generation(app.config["INDEX_DIR"]) == generation  # caught up, not rebuilt
        assert si.status()["lag"] == 0
        assert found(f"kilo{shown}") == [card_id]
        assert found(f"kilo{shown - 1}") == []


class Gate:
    """A TCP relay in front of the database server: closing it is the database going away (connections
    cut, new ones refused); opening it again is the database coming back on the same address."""

    def __init__(self, host, port):
        self.target, self.conns, self.listener = (host, port), [], None
        self.port = self._free_port()
        self.open()

    @staticmethod
    def _free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def open(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, frees the port
        except OSError:
            pass
        self.listener.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.conns = []


def test_the_database_going_away_and_coming_back(pg_app, make_app, auth_for):
    from sqlalchemy.engine import make_url

    url = make_url(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    gate = Gate(url.host, url.port)
    app = make_app("gated", DATABASE_URL=url.set(host="127.0.0.1", port=gate.port).render_as_string(False),
                   PROPAGATE_EXCEPTIONS=False)  # a server's error pages, not the test client's re-raise
    with app.app_context():
        from kb.accounts import operations as accounts

        accounts.create_user(email="ada@example.com", name="Ada", role="agent", password="correct-horse-1")
        db.session.commit()
    client = app.test_client()
    auth = auth_for(client)
    assert auth.login("ada@example.com").status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/health").get_json()["database"] == "ok"
    try:
        gate.close()
        page = client.get("/")
        assert page.status_code in (500, 503) and b"Traceback" not in page.data
        assert b"try again" in page.data.lower() or b"database" in page.data.lower()
        health = client.get("/api/v1/health")
        assert health.status_code == 503 and health.get_json()["status"] == "error"
    finally:
        gate.open()
    # Back on its own: no restart, the pool's dead connections are replaced.
    for _ in range(3):
        if client.get("/").status_code == 200:
            break
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/health").get_json()["database"] == "ok"
    gate.close()
