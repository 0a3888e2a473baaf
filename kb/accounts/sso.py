"""Single sign-on through an OpenID Connect provider (Authlib's Flask client, the authorization code flow).

The provider says who someone is; the rules here (`account_for`) decide whether that person gets in, and as
which account: a verified e-mail address in an allowed domain, an account found by its issuer and subject, else
the password account with the same address (linked once), else a new one. The views only move the browser.
"""
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import date

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kb import audit
from kb.accounts.auth import LoginForm, is_safe_next, start_session
from kb.accounts.emails import clean_email, email_key
from kb.accounts.operations import EMAIL, InvalidAccount, create_team, create_user, find_team, find_user
from kb.dates import local_day, utcnow
from kb.extensions import db
from kb.models import ROLES, User

logger = logging.getLogger(__name__)

bp = Blueprint("sso", __name__)

INACTIVE = "This account is deactivated or has expired; ask an admin."
SUBJECT_MAX = 400  # User.sso_subject


class Refused(Exception):
    """The provider vouched for someone kb does not let in; the message says why, for the sign-in page."""


@dataclass(frozen=True)
class Settings:
    """The OIDC_* settings, checked once at start-up so that a typo fails loudly, not at someone's sign-in."""

    issuer: str
    role: str
    team: str | None
    allowed_domains: frozenset
    expires_on: date | None
    client: object  # Authlib's FlaskOAuth2App


def parse_domains(value):
    """A tuple, a list, or (from the environment) "example.com, example.org" as a set of compared domains.

    A bare string must not be iterated: its letters would become "domains"."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return frozenset(email_key(d).lstrip("@") for d in value or () if email_key(d).lstrip("@"))


def settings_from(config):
    """Settings from app.config, or None when SSO is off. Raises kb.ConfigError on an unusable value."""
    from kb import ConfigError

    issuer = (config.get("OIDC_ISSUER") or "").strip().rstrip("/")
    if not issuer:
        return None
    if not config.get("OIDC_CLIENT_ID"):
        raise ConfigError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not: register kb with the provider first.")
    role = config.get("OIDC_ROLE") or "agent"
    if role not in ROLES:
        raise ConfigError(f"OIDC_ROLE must be one of {', '.join(ROLES)}, not {role!r}.")
    expires_on = config.get("OIDC_EXPIRES_ON") or None
    if isinstance(expires_on, str):
        try:
            expires_on = date.fromisoformat(expires_on.strip())
        except ValueError:
            raise ConfigError(f"OIDC_EXPIRES_ON must be an ISO date (2025-01-15), not {expires_on!r}.") from None
    elif expires_on is not None and not isinstance(expires_on, date):
        raise ConfigError(f"OIDC_EXPIRES_ON must be an ISO date (2025-01-15), not {expires_on!r}.")
    team = " ".join((config.get("OIDC_TEAM") or "").split()) or None
    if team is not None and len(team) > 80:
        raise ConfigError("OIDC_TEAM is longer than 80 characters, the longest team name.")
    return Settings(issuer=issuer, role=role, team=team,
                    allowed_domains=parse_domains(config.get("OIDC_ALLOWED_DOMAINS")), expires_on=expires_on,
                    client=None)


def settings():
    return current_app.extensions["kb.sso"]


def subject_of(claims):
    """The identity's stable key: the subject alone is unique only within its issuer (the spec's rule)."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not issuer or not subject:
        raise Refused("The sign-in provider did not say who you are (no issuer or subject).")
    key = f"{issuer.rstrip('/')} {subject}"  # an issuer URL has no space, so the pair reads back unambiguously
    if len(key) > SUBJECT_MAX:
        raise Refused("The sign-in provider sent an identity too long to store; ask an admin.")
    return key


def verified_email(claims, allowed_domains):
    """The compared form of the e-mail the provider vouches for, if its domain is exactly an allowed one."""
    address = claims.get("email")
    if not isinstance(address, str) or not address.strip():
        raise Refused("The sign-in provider did not send an e-mail address; kb needs one to find your account.")
    verified = claims.get("email_verified")
    # Some providers (AWS Cognito) send the flag as a string.
    if not (verified is True or (isinstance(verified, str) and verified.strip().lower() == "true")):
        raise Refused("The sign-in provider has not verified this e-mail address; verify it there, then try again.")
    key = email_key(address)
    if not EMAIL.match(key) or len(key) > 254:
        raise Refused("The sign-in provider sent an address that is not a valid e-mail address.")
    domain = key.rpartition("@")[2]
    if domain not in allowed_domains:  # exact: "evil-example.com" and "example.com.evil.org" are other domains
        raise Refused(f"Addresses at {domain} may not sign in here; ask an admin.")
    return key


def account_for(claims, now):
    """The account that the provider's (already validated) ID-token claims sign in as.

    Creates or links it on the first sign-in (flushed; the caller commits). Raises Refused when the claims let
    nobody in: every check comes before any write, and the caller rolls back in case creating an account failed."""
    cfg = settings()
    if not isinstance(claims.get("iss"), str) or claims["iss"].rstrip("/") != cfg.issuer:
        # Authlib checks the token against the discovery document; this checks that document is the one set.
        raise Refused("The sign-in came from another provider than the one kb is set up for; ask an admin.")
    subject = subject_of(claims)
    address = verified_email(claims, cfg.allowed_domains)  # every time: a domain taken off the list locks out
    user = db.session.scalar(select(User).filter_by(sso_subject=subject))
    if user is None:
        user = find_user(address)
        if user is not None and user.sso_subject is not None:
            raise Refused("The account with this e-mail address signs in with another single sign-on identity; "
                          "ask an admin.")
    if user is not None:
        if not user.is_active_at(now):
            raise Refused(INACTIVE)
        if user.sso_subject is None:
            user.sso_subject = subject
            audit.record(user, "user.sso_link", f"user:{user.id}", identity=subject)
            db.session.flush()
        return user
    if cfg.expires_on is not None and local_day(now) > cfg.expires_on:
        raise Refused(INACTIVE)
    return _create_account(claims, subject, cfg)


def _create_account(claims, subject, cfg):
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    name = " ".join(name.split())[:120] or clean_email(claims["email"]).partition("@")[0][:120]
    try:
        team = (find_team(cfg.team) or create_team(name=cfg.team)) if cfg.team else None
        # Nobody knows this password: the account signs in here, or through a set-password link.
        user = create_user(email=claims["email"], name=name, role=cfg.role, password=secrets.token_urlsafe(32),
                           teams=[team] if team else [], expires_on=cfg.expires_on)
    except InvalidAccount as exc:
        raise Refused(f"kb could not create your account ({exc}); ask an admin.") from exc
    user.sso_subject = subject
    audit.record(user, "user.sso_create", f"user:{user.id}", identity=subject, email=user.email, role=user.role,
                 team=team.name if team else None, expires_on=cfg.expires_on)
    db.session.flush()
    return user


def _login_page(message, status):
    return render_template("accounts/login.html", form=LoginForm(), sso_error=message), status


# A link (GET), not a form: the page's CSP `form-action 'self'` would stop a form that redirects to the provider.
@bp.get("/login/sso")
def start():
    """Send the browser to the provider, remembering where it was going; Authlib keeps state and nonce."""
    next_url = request.args.get("next")
    session.pop("sso_next", None)
    if is_safe_next(next_url):
        session["sso_next"] = next_url
    try:
        return settings().client.authorize_redirect(url_for("sso.callback", _external=True))
    # ValueError: the discovery answer was not JSON; KeyError, RuntimeError: it lacks an endpoint.
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("SSO: cannot use the provider's discovery document: %r", exc)
        return _login_page("The sign-in provider cannot be reached; try again later, or sign in with your password.",
                           502)


@bp.get("/login/sso/callback")
def callback():
    """The provider's answer: an authorization code to exchange, or an error to show."""
    client = settings().client
    try:
        token = client.authorize_access_token()
    except OAuthError as exc:
        if request.args.get("error"):
            reason = request.args.get("error_description") or request.args.get("error")
            return _login_page(f"The sign-in provider did not sign you in: {reason[:200]}", 400)
        logger.warning("SSO: refused answer from the provider: %s", exc)
        return _login_page("This sign-in link is no longer valid (it expired or was used); please start again.", 400)
    except JoseError as exc:
        logger.warning("SSO: invalid ID token: %s", exc)
        return _login_page("The sign-in provider's answer could not be verified; please start again.", 400)
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("SSO: token exchange failed: %r", exc)
        return _login_page("The sign-in provider cannot be reached; try again later, or sign in with your password.",
                           502)
    claims = token.get("userinfo")
    if not claims:
        return _login_page("The sign-in provider sent no ID token; ask an admin to check the OIDC_SCOPES setting.",
                           400)
    try:
        user = account_for(claims, utcnow())
        next_url = session.pop("sso_next", None)
        start_session(user)
        user.last_login_at = utcnow()
        db.session.commit()
    except Refused as exc:
        db.session.rollback()
        return _login_page(str(exc), 400)
    except IntegrityError:  # the same person's first sign-in, twice at once: the other one won
        db.session.rollback()
        return _login_page("Your account was being set up by another sign-in; please try again.", 400)
    return redirect(next_url if is_safe_next(next_url) else url_for("cards.home"))


def init_app(app):
    """Register the SSO pages when OIDC_ISSUER is set; without it /login/sso does not exist (404)."""
    cfg = settings_from(app.config)
    if cfg is None:
        return
    oauth = OAuth(app)
    client = oauth.register(
        "oidc",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config.get("OIDC_CLIENT_SECRET"),
        server_metadata_url=cfg.issuer + "/.well-known/openid-configuration",
        client_kwargs={"scope": app.config.get("OIDC_SCOPES") or "openid email profile",
                       "code_challenge_method": "S256", "default_timeout": 10},
    )
    app.extensions["kb.sso"] = replace(cfg, client=client)
    # The login page shows the button only when this is set, i.e. only when the pages exist.
    app.jinja_env.globals["sso_button_label"] = app.config.get("OIDC_BUTTON_LABEL") or "Sign in with SSO"
    app.register_blueprint(bp)
