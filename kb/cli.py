"""The `kb` command line: thin wrappers that parse options, call operations and report."""
import json
import os
import sys
import tempfile
from datetime import date

import click
from flask.cli import FlaskGroup, ScriptInfo, get_debug_flag, routes_command, shell_command, with_appcontext
from flask.cli import run_command as flask_run_command
from sqlalchemy import select

from kb.extensions import db
from kb.ids import MAX_ID
from kb.models import ROLES, Team
from kb.search import index as search_index
from kb.search import vectors


def main():
    """Entry point of the `kb` console script (`flask --app kb` is the same group, but for `run`)."""
    from kb import create_app

    # Flask's own `run` would shadow ours (built-in commands win over the app's), so the defaults are
    # left out and `shell` and `routes` added back.
    group = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False,
                       help="kb: verified answer cards for support teams.")
    for command in (run_command, shell_command, routes_command):
        group.add_command(command)
    group(prog_name="kb")


@click.command("run", short_help="Serve kb (development server) and run its periodic jobs.",
               params=[*flask_run_command.params,
                       click.Option(["--no-jobs"], is_flag=True,
                                    help="Serve only; leave the periodic jobs to `kb worker` or cron.")])
@click.pass_context
def run_command(ctx, no_jobs, **options):
    """Run the development server (Flask's `run`, same options) with the periodic jobs in a background
    thread: staleness check and notifications, weekly digest, index upkeep, mail retries (`kb jobs`)."""
    from kb import jobs
    from kb.extensions import require_database

    app = ctx.ensure_object(ScriptInfo).load_app()
    try:
        require_database(app)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    reload = get_debug_flag() if options["reload"] is None else options["reload"]
    # Under the reloader this process only watches files; its child, which serves, runs the jobs.
    if not no_jobs and app.config["JOBS_ENABLED"] and (not reload or os.environ.get("WERKZEUG_RUN_MAIN")):
        jobs.start_in_background(app, on_outcome=_echo_outcome)
    ctx.invoke(flask_run_command, **options)


def _echo_outcome(outcome):
    if outcome.ok and outcome.text == "nothing to do":
        return
    click.echo(f"[jobs] {outcome.job}: {'' if outcome.ok else 'FAILED: '}{outcome.text}", err=True)


@click.command("init")
@with_appcontext
def init_command():
    """Create the database schema, or migrate it to the latest version."""
    from flask import current_app
    from flask_migrate import upgrade

    from kb.models import Card, CardState
    from kb.verification import checker

    upgrade()
    # Cards written before the status table existed get their status now, not at the first cron run
    # (only then: `make run` calls this at every start).
    missing = select(Card.id).outerjoin(CardState, CardState.card_id == Card.id).where(CardState.card_id.is_(None))
    if db.session.scalar(missing.limit(1)) is not None:
        checker.run_check()
        db.session.commit()
    url = db.engine.url.render_as_string(hide_password=True)
    click.echo(f"Database ready: {url}")
    os.makedirs(current_app.config["INDEX_DIR"], exist_ok=True)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no accounts yet (first run).")
@with_appcontext
def seed_demo_command(if_empty):
    """Load the demo knowledge base (idempotent) and print the demo accounts."""
    from kb import demo

    if if_empty and not demo.database_is_empty():
        click.echo("Database already has accounts; demo data not loaded.")
    else:
        summary = demo.seed()
        db.session.commit()
        click.echo(summary)
    click.echo("Demo accounts (e-mail / password / role):")
    for email, password, role in demo.demo_accounts():
        click.echo(f"  {email:<28} {password:<14} {role}")


def _parse_date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2027-01-31") from None


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--team", "teams", multiple=True, help="Team name; repeat for several teams.")
@click.option("--expires", callback=_parse_date, help="Last day the account works (YYYY-MM-DD).")
@with_appcontext
def create_user_command(email, name, role, password, teams, expires):
    """Create an account."""
    from kb.accounts import operations

    found = []
    for name_ in teams:
        team = operations.find_team(name_)
        if team is None:
            known = ", ".join(db.session.scalars(select(Team.name).order_by(Team.name))) or "none yet"
            raise click.ClickException(f"unknown team {name_!r} (teams: {known}; `kb create-team` adds one)")
        found.append(team)
    try:
        user = operations.create_user(email=email, name=name, role=role, password=password, teams=found,
                                      expires_on=expires)
    except operations.InvalidAccount as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}" + (f", teams: {', '.join(teams)}" if teams else ""))


@click.command("create-team")
@click.argument("name")
@click.option("--description", default="")
@with_appcontext
def create_team_command(name, description):
    """Create a team."""
    from kb.accounts import operations

    try:
        team = operations.create_team(name=name, description=description)
    except operations.InvalidAccount as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created team {team.name}")


def _read_text(path):
    """(display name, text) of a file given on the command line (- for standard input), as one-line errors:
    a missing, unreadable, binary or non-UTF-8 file is a ClickException, never a traceback."""
    from kb.text import NotText, decode

    name = "standard input" if path == "-" else os.path.basename(path)
    try:
        with click.open_file(path, "rb") as fh:
            return name, decode(fh.read())
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    except NotText as exc:
        raise click.ClickException(f"{name}:{exc.line}: {exc.message}; nothing was imported.") from None


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Validate and report only; write nothing.")
@click.option("--owner", "owner_email", help="Owner (e-mail) of cards whose line names none.")
@click.option("--collection", help="Collection of cards whose line names none.")
@click.option("--team", "verifier_team", help="Verifying team of the collections the import creates, where no line "
                                              "names one.")
@with_appcontext
def import_command(path, dry_run, owner_email, collection, verifier_team):
    """Import cards from a JSON Lines file (PATH or - for standard input). All or nothing. An export from
    another tool imports as it is with --owner, --team (and --collection when its lines have none)."""
    from kb.cards import transfer

    defaults = {"owner_email": owner_email, "collection": collection, "verifier_team": verifier_team}
    name, text = _read_text(path)
    try:
        # Split at line feeds only: an exported answer may hold U+2028, which splitlines() would cut at.
        report = transfer.import_lines(text.split("\n"), dry_run=dry_run, defaults=defaults)
    except transfer.ImportFailed as exc:
        for number, message in exc.errors:
            click.echo(f"{name}:{number}: {message}", err=True)
        raise click.ClickException(f"{len(exc.errors)} error(s); nothing was imported.") from None
    click.echo(("Dry run, nothing written: " if dry_run else "Imported: ") + report.summary())


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--channel", type=click.Choice(["chatbot", "faq", "agents"]),
              help="Instead of a backup, what this channel is served (for a chatbot's own store), as the API shows it.")
@with_appcontext
def export_command(path, channel):
    """Export every card as JSON Lines to PATH (or - for standard output)."""
    from kb.cards import transfer
    from kb.channels import api

    lines = transfer.export_lines if channel is None else lambda: api.export_lines(channel)
    if path == "-":
        count = sum(1 for line in lines() if sys.stdout.write(line) is not None)
    else:
        # Write next to the target and rename, so that a crash never leaves half a file.
        folder = os.path.dirname(os.path.abspath(path))
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp") as tmp:
            try:
                count = 0
                for line in lines():
                    tmp.write(line)
                    count += 1
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, path)
    click.echo(f"Exported {count} card(s).", err=path == "-")


def _parse_now(ctx, param, value):
    if value is None:
        return None
    from kb.dates import parse_iso

    try:
        return parse_iso(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("check-stale")
@click.option("--now", callback=_parse_now, help="Evaluate at this ISO 8601 instant instead of now (what-if).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--all", "everything", is_flag=True, help="List every card, not only those needing attention.")
@click.option("--notify", "send_notifications", is_flag=True,
              help="Notify owners of lapsed and due-soon cards, escalate long-stale ones, and send e-mail.")
@click.option("--fail-on-stale", is_flag=True, help="Exit 1 when any card needs verification (for monitoring).")
@click.option("--dry-run", is_flag=True, help="Report only: store nothing and notify nobody (for what-if --now).")
@with_appcontext
def check_stale_command(now, as_json, everything, send_notifications, fail_on_stale, dry_run):
    """Apply the staleness policy to every card, store the result and today's trust score."""
    import json

    from kb.verification import checker, notify

    send_notifications = send_notifications and not dry_run
    report = checker.run_check(now=now, send_notifications=send_notifications)
    rows = checker.report_rows(report, everything=everything)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    mailed = notify.deliver_pending() if send_notifications else 0
    counts = {code: report.counts.get(code, 0) for code in ("verified", "due_soon", "needs_verification", "draft",
                                                            "archived")}
    if as_json:
        click.echo(json.dumps({"now": report.now.isoformat().replace("+00:00", "Z"), "counts": counts,
                               "cards": rows, "notified": report.notified}, indent=2))
    else:
        click.echo(f"{'id':>6}  {'card':<44} {'collection':<24} {'owner':<18} {'status':<19} {'due':<10}  reasons")
        for r in rows:
            click.echo(f"{r['id']:>6}  {_cut(r['title'], 44):<44} {_cut(r['collection'], 24):<24} "
                       f"{_cut(r['owner'], 18):<18} {r['status']:<19} {(r['due'] or '')[:10]:<10}  "
                       f"{', '.join(r['reasons'])}")
        click.echo(", ".join(f"{n} {code.replace('_', ' ')}" for code, n in counts.items())
                   + f"; {report.changed} status change(s) stored"
                   + (f"; {report.notified} notification(s), {mailed} e-mail(s) sent" if send_notifications else ""))
    if fail_on_stale and report.stale:
        sys.exit(1)


def _cut(text, width):
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("digest")
@click.option("--now", callback=_parse_now, help="Pretend it is this ISO 8601 instant.")
@click.option("--force", is_flag=True, help="Send even if this week's digest went out already.")
@with_appcontext
def digest_command(now, force):
    """Send each verifier their weekly digest: lapsed, due soon, open flags (once a week)."""
    from kb.verification import digest, notify

    queued = digest.send_digests(now=now, force=force)
    db.session.commit()
    mailed = notify.deliver_pending()
    click.echo(f"{queued} digest(s) queued, {mailed} e-mail(s) sent")


@click.command("reindex")
@click.option("--procs", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Indexing processes (2 is about 1.6x faster on two cores).")
@click.option("--embed", is_flag=True,
              help="Also embed, here, every wording that waits for a vector (else the app does it in the background).")
@with_appcontext
def reindex_command(procs, embed):
    """Rebuild the search index from the database into a new folder and swap it in atomically, and record
    every card's wording for the semantic vectors (an unchanged wording keeps its vector).

    Searches keep being answered from the old index while this runs.
    """
    def progress(done, total):
        if done == total or done % 10_000 == 0:
            click.echo(f"  {done}/{total} cards", err=True)

    result = search_index.reindex(procs=procs, progress=progress)
    click.echo(f"Indexed {result['documents']} cards into {result['generation']} in {result['seconds']:.1f} s"
               f" ({result['caught_up']} changes made meanwhile applied).")
    semantic = vectors.status()
    if semantic["model_state"] != "ready":
        click.echo("Vectors: none (search is lexical" + (f": {semantic['reason']})." if semantic["reason"] else ")."))
        return
    if embed and semantic["waiting"]:
        started = semantic["waiting"]
        vectors.start_backfill()
        while not vectors.wait_for_backfill(30):
            semantic = vectors.status()
            click.echo(f"  {started - semantic['waiting']}/{started} wordings embedded", err=True)
        semantic = vectors.status()
    if not semantic["waiting"]:
        then = "."
    elif embed:
        then = ": another process of this host is embedding them."
    else:
        then = (": the app embeds them in the background (`kb index-status` shows progress; search is lexical for"
                " those cards meanwhile), or run `kb reindex --embed`.")
    click.echo(f"Vectors ({semantic['model']}): {semantic['vectors']} wordings of {semantic['cards']} cards, "
               f"{semantic['waiting']} waiting{then}")


INDEX_STATES = {"rebuilding": "rebuilding after a problem with the index (searches say so until it is done)",
                "corrupt": "corrupt: the app's next search rebuilds it, or run `kb reindex`"}


@click.command("index-status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--catch-up", is_flag=True, help="First apply any change-feed rows the index has not seen.")
@click.option("--optimize", is_flag=True, help="Also merge the index into one segment.")
@with_appcontext
def index_status_command(as_json, catch_up, optimize):
    """Document count, watermark, feed head and lag of the search index. Exits 1 when it lags, or when it
    is corrupt or being rebuilt."""
    info = search_index.status(repair=False)
    if info["state"] == "ok" and catch_up:
        search_index.apply_feed()
    if info["state"] == "ok" and optimize:
        search_index.optimize()
    if catch_up or optimize:
        info = search_index.status(repair=False)
    semantic = vectors.status()
    if as_json:
        click.echo(json.dumps({**info, "semantic": semantic}, indent=2))
    else:
        click.echo(f"{'state':<11} {INDEX_STATES.get(info['state'], info['state'])}")
        for key in ("generation", "documents", "watermark", "feed_head", "lag", "usage_waiting", "segments",
                    "language"):
            click.echo(f"{key.replace('_', ' '):<11} {'-' if info[key] is None else info[key]}")
        model = f"{semantic['model']} ({semantic['model_state']})" if semantic["model"] else "none"
        click.echo(f"{'model':<11} {model}" + (f": {semantic['reason']}" if semantic["reason"] else ""))
        click.echo(f"{'vectors':<11} {semantic['vectors']} wordings of {semantic['cards']} cards, "
                   f"{semantic['waiting']} waiting to be embedded, watermark {semantic['watermark']}")
    if info["state"] != "ok" or info["lag"]:
        raise SystemExit(1)


def _refuse(error, prefix=""):
    """Refused input: nothing is kept, each reason is printed, the command exits 1."""
    db.session.rollback()
    for where, message in error.errors.items():
        click.echo(f"{prefix}{where}: {message}", err=True)
    raise SystemExit(1) from None


@click.group("synonyms")
def synonyms_group():
    """Synonym sets used by search (applied at query time: no reindex needed)."""


@synonyms_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--merge", is_flag=True, help="Add to the existing sets instead of replacing them.")
@with_appcontext
def synonyms_import_command(path, merge):
    """Load sets from FILE: one per line, terms separated by commas, `#` comments. All or nothing."""
    from kb.search import synonyms
    from kb.validation import Invalid

    name, text = _read_text(path)
    try:
        count = synonyms.import_sets(text, None, replace=not merge)
    except Invalid as error:
        _refuse(error, f"{name}: ")
    db.session.commit()
    click.echo(f"{count} synonym sets {'added' if merge else 'imported (replacing the previous ones)'}.")


@synonyms_group.command("list")
@with_appcontext
def synonyms_list_command():
    """Print the sets in the import format."""
    from kb.models import SynonymSet

    for row in db.session.scalars(select(SynonymSet).order_by(SynonymSet.id)):
        click.echo(row.terms)


@click.group("tokens")
def tokens_group():
    """API bearer tokens for the chatbot, the FAQ widgets and agent tools."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what uses it, e.g. \"Help widget\".")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="public:read, internal:read or flags:write; repeat for several.")
@click.option("--by", "by_email", help="E-mail of the admin accountable for it (flags it raises are in their name).")
@with_appcontext
def tokens_create_command(name, scopes, by_email):
    """Create a token and print its secret, once: it is stored only as a hash."""
    from kb.accounts.operations import find_user
    from kb.channels import tokens
    from kb.validation import Invalid

    actor = find_user(by_email) if by_email else None
    try:
        if by_email and actor is None:
            raise Invalid({"by": f"there is no user {by_email}"})
        token, secret = tokens.create(name, scopes, actor)
    except Invalid as error:
        _refuse(error)
    db.session.commit()
    click.echo(f"Token {token.id} \"{token.name}\" ({token.scopes}). Its secret, shown only now:", err=True)
    click.echo(secret)


@tokens_group.command("list")
@with_appcontext
def tokens_list_command():
    """Every token: id, name, scopes, created, last used, revoked."""
    from kb.channels import tokens

    for t in tokens.all_tokens():
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        click.echo(f"{t.id}\t{t.prefix}…\t{t.name}\t{t.scopes}\tcreated {t.created_at:%Y-%m-%d}\t{used}\t{state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke_command(token_id):
    """Revoke a token at once; requests with it get 401 from now on."""
    from kb.channels import tokens
    from kb.models import ApiToken

    token = db.session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None  # no column holds 10**20
    if token is None:
        raise click.ClickException(f"there is no token {token_id} (`kb tokens list` shows them)")
    tokens.revoke(token)
    db.session.commit()
    click.echo(f"Token {token.id} \"{token.name}\" revoked.")


@click.group("users")
def users_group():
    """Accounts in bulk: a cohort of seasonal hires from a CSV file."""


@users_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--team", "team_name", required=True, help="Team the cohort joins (its leads run its onboarding).")
@click.option("--expires", callback=_parse_date,
              help="Last day the accounts work (YYYY-MM-DD), where a line gives none in its `expires` column.")
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True,
              help="Role of new accounts whose line gives none (existing accounts keep theirs).")
@click.option("--links-out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the set-password links to this CSV file (- for standard output) instead of mailing them. "
                   "Required when mail (MAIL_SERVER) is not configured and the import needs links.")
@click.option("--by", "by_email", help="E-mail of the lead or admin running the import (recorded in the audit log).")
@click.option("--dry-run", is_flag=True, help="Check the file and report what would change; write nothing.")
@with_appcontext
def users_import_command(path, team_name, expires, role, links_out, by_email, dry_run):
    """Create or update the accounts listed in a cohort CSV (columns email, name, role, expires). All or
    nothing: every bad line is listed and nothing is written. Existing accounts (same address, in any case or
    Unicode form) join the team, keep their role, and are reactivated if they had ended (a rehire)."""
    from flask import current_app

    from kb.accounts import cohort, links, operations
    from kb.dates import local_day

    team = operations.find_team(team_name)
    if team is None:
        known = ", ".join(db.session.scalars(select(Team.name).order_by(Team.name))) or "none yet"
        raise click.ClickException(f"unknown team {team_name!r} (teams: {known}; `kb create-team` adds one)")
    actor = operations.find_user(by_email) if by_email else None
    if by_email and actor is None:
        raise click.ClickException(f"--by: there is no user {by_email}")
    if expires is not None and expires < local_day():
        raise click.ClickException(f"--expires {expires} is in the past")
    name = "standard input" if path == "-" else os.path.basename(path)
    with click.open_file(path, "rb") as fh:
        data = fh.read(current_app.config["COHORT_MAX_BYTES"] + 1)
    try:
        rows = cohort.parse(data)
    except cohort.CohortRefused as exc:
        for line in exc.lines():
            click.echo(f"{name}: {line}", err=True)
        bad = [str(line) for line, _ in exc.problems if line]
        raise click.ClickException(f"{len(exc.problems)} problem(s)" + (f" (line {', '.join(bad[:20])}"
                                   + ("…" if len(bad) > 20 else "") + ")" if bad else "")
                                   + f" in {name}; nothing was imported.") from None
    result = cohort.apply(rows, team, expires, role, actor)
    if dry_run:
        db.session.rollback()
        click.echo("Dry run, nothing written: " + result.summary())
        return
    if result.links and not links_out and not links.mail_configured():
        db.session.rollback()
        raise click.ClickException(f"{len(result.links)} account(s) need a set-password link and mail is not "
                                   "configured (MAIL_SERVER): give --links-out FILE (or - to print them). Nothing "
                                   "was imported.")
    if links_out:
        _write_links(links_out, links.to_csv(result.links), db.session.commit)
        click.echo(f"Imported into {team.name}: {result.summary()}; links written to {links_out}",
                   err=links_out == "-")
        return
    db.session.commit()
    mailed, kept = cohort.hand_out(result)
    where = f"{mailed} link(s) e-mailed" + (f", {kept} could not be sent: download them at /cohorts/imports/"
                                            f"{result.user_import.id}" if kept else "")
    click.echo(f"Imported into {team.name}: {result.summary()}; {where}")


def _write_links(path, text, commit):
    """The links file is written beside its target first, then the import committed, then the file renamed
    into place: a failed write leaves no accounts without their links."""
    if path == "-":
        commit()
        click.echo(text, nl=False)
        return
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False, suffix=".tmp",
                                     newline="") as tmp:
        tmp.write(text)
    try:
        commit()
    except BaseException:
        os.unlink(tmp.name)
        raise
    os.chmod(tmp.name, 0o600)  # one-time passwords in all but name
    os.replace(tmp.name, path)


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every job that is due, once, and exit (for cron and tests).")
@with_appcontext
def worker_command(once):
    """Run the periodic jobs in the foreground, apart from the web server, until Ctrl+C or SIGTERM."""
    from flask import current_app

    from kb import jobs
    from kb.extensions import require_database

    try:
        require_database(current_app)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    scheduler = jobs.Scheduler(current_app._get_current_object(), on_outcome=_echo_outcome)
    if once:
        outcomes = scheduler.run_due()
        failed = [o.job for o in outcomes if not o.ok]
        click.echo(f"{len(outcomes)} job run(s)" + (f", failed: {', '.join(failed)}" if failed else ""))
        raise SystemExit(1 if failed else 0)
    import faulthandler

    faulthandler.enable()  # a hang or crash of this long-lived process can be diagnosed: SIGABRT prints each thread
    click.echo(f"kb worker {scheduler.holder}: {', '.join(scheduler.jobs)} (Ctrl+C to stop)", err=True)
    jobs.run_in_foreground(scheduler)
    click.echo("kb worker stopped.", err=True)


@click.command("jobs")
@with_appcontext
def jobs_command():
    """Each periodic job: when it runs, its last run and result, when it is next due, who holds its lease."""
    from flask import current_app

    from kb import jobs
    from kb.dates import local

    def when(moment):
        return f"{local(moment):%Y-%m-%d %H:%M}" if moment else "never"

    click.echo(f"{'job':<24} {'schedule':<26} {'last start':<16}  {'runs':>5}  {'next due':<16}  {'lease':<20} result")
    for row in jobs.status(jobs.schedule(current_app.config)):
        click.echo(f"{_cut(row['job'], 24):<24} {row['when']:<26} {when(row['last_started_at']):<16}  "
                   f"{row['runs']:>5}  {when(row['next_due']):<16}  {_cut(row['holder'] or 'free', 20):<20} "
                   f"{row['result']}")


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False))
@with_appcontext
def backup_command(folder):
    """Write a consistent backup of the database (every table, plus the cards as an export) into FOLDER."""
    from kb import backup

    try:
        manifest = backup.backup(folder)
    except (backup.BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backed up {sum(manifest['tables'].values())} rows of {len(manifest['tables'])} tables "
               f"({manifest['tables'].get('cards', 0)} cards, schema {manifest['schema']}) into {folder}")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@with_appcontext
def restore_command(folder):
    """Load a backup from FOLDER into this instance's empty database, then rebuild the search index."""
    from kb import backup

    try:
        manifest = backup.restore(folder)
    except (backup.BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {sum(manifest['tables'].values())} rows ({manifest['tables'].get('cards', 0)} cards) "
               f"from {folder}, made {manifest['created_at']}; the search index was rebuilt")


def init_app(app):
    for command in (init_command, seed_demo_command, create_user_command, create_team_command, import_command,
                    export_command, check_stale_command, digest_command, reindex_command, index_status_command,
                    synonyms_group, tokens_group, users_group, worker_command, jobs_command, backup_command,
                    restore_command):
        app.cli.add_command(command)
