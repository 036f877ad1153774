"""Sign-in for staff with Flask-Security: argon2, an authenticator app required, recovery codes.

What Flask-Security leaves to the app is here: the session's idle and absolute timeouts, a new
session at sign-in and every session of the account ended at sign-out, failed sign-ins limited
per typed address and per client address in the database (so every process shares the count),
and its pages rendered inside the site's own shell.
"""

import hmac
import re
import time

from flask import Flask, abort, current_app, flash, g, render_template, request, session
from flask_babel import Babel
from flask_login import user_logged_in, user_logged_out
from flask_security import (
    EmailValidateException,
    LoginForm,
    MailUtil,
    MfRecoveryForm,
    Security,
    SQLAlchemyUserDatastore,
    TwoFactorRescueForm,
    TwoFactorSetupForm,
    TwoFactorVerifyCodeForm,
    logout_user,
)
from markupsafe import Markup
from wtforms import RadioField, SelectChoice

from .. import limits
from ..extensions import begin_write, db
from ..forms import check_email
from ..models import StaffRole, StaffUser
from ..pages import render_page
from ..security import keyed_hash
from .audit import record

# The built page whose header, navigation and footer staff pages borrow: content/beheer.md, kept
# out of the navigation.
SHELL_PAGE = "beheer/"
MESSAGES = {
    "GENERIC_AUTHN_FAILED": ("Aanmelden mislukt: e-mailadres of wachtwoord klopt niet.", "error"),
    "UNAUTHENTICATED": ("Meld u aan om deze pagina te zien.", "error"),
    "UNAUTHORIZED": ("U heeft geen toegang tot deze pagina.", "error"),
    "LOGIN": ("Meld u aan om deze pagina te zien.", "info"),
    "REFRESH": ("Meld u opnieuw aan om deze pagina te zien.", "info"),
    "DISABLED_ACCOUNT": ("Aanmelden mislukt: e-mailadres of wachtwoord klopt niet.", "error"),
    "EMAIL_NOT_PROVIDED": ("Vul uw e-mailadres in.", "error"),
    "PASSWORD_NOT_PROVIDED": ("Vul uw wachtwoord in.", "error"),
    "INVALID_EMAIL_ADDRESS": ("Vul een geldig e-mailadres in.", "error"),
    "INVALID_CODE": ("Deze code klopt niet.", "error"),
    "TWO_FACTOR_INVALID_TOKEN": ("Deze code klopt niet. Vul de code in die de app nu toont.",
                                 "error"),
    "TWO_FACTOR_LOGIN_SUCCESSFUL": ("U bent aangemeld.", "success"),
    "TWO_FACTOR_CHANGE_METHOD_SUCCESSFUL": ("De authenticator-app is ingesteld.", "success"),
    "TWO_FACTOR_PERMISSION_DENIED": ("Meld u eerst aan met uw wachtwoord.", "error"),
    "TWO_FACTOR_METHOD_NOT_AVAILABLE": ("Kies de authenticator-app.", "error"),
    "TWO_FACTOR_SETUP_EXPIRED": ("Het instellen duurde te lang (meer dan %(within)s). Begin "
                                 "opnieuw.", "error"),
    "INVALID_RECOVERY_CODE": ("Deze herstelcode klopt niet of is al gebruikt.", "error"),
    "NO_RECOVERY_CODES_SETUP": ("Er zijn nog geen herstelcodes gemaakt.", "info"),
    "ANONYMOUS_USER_REQUIRED": ("U bent al aangemeld.", "error"),
    "INVALID_REDIRECT": ("Doorsturen naar een andere site kan niet.", "error"),
}
HEADING = re.compile(r"<h1>(.*?)</h1>", re.S)
TOO_MANY = "Te veel mislukte pogingen. Probeer het over een kwartier opnieuw."

class StaffMailUtil(MailUtil):
    """Addresses as the service's e-mail rule writes them (punycode domain, lower case), so an
    account made with `mailer staff add` is found at sign-in whichever way its domain is typed."""

    def normalize(self, email: str) -> str:
        """The stored form of a typed address, or Flask-Security's refusal."""
        try:
            return staff_address(email)
        except ValueError as error:
            raise EmailValidateException(str(error)) from None

    validate = normalize


def staff_address(email: str) -> str:
    """A staff account's address as stored: the e-mail rule's form, in lower case."""
    return check_email(email).lower()


def account_address(email: str) -> str:
    """The address an account is looked up by: as stored, or, for one that does not pass the
    e-mail rule (and so has no account), the typed address in lower case."""
    try:
        return staff_address(email)
    except ValueError:
        return email.strip().lower()


datastore = SQLAlchemyUserDatastore(db, StaffUser, StaffRole)
security = Security(mail_util_cls=StaffMailUtil)
babel = Babel()


def settings(app: Flask) -> dict:
    """Flask-Security's settings for this service, with keys derived from the never-rotated
    `HASH_KEY`, so a new `SECRET_KEY` does not lock every account out of its authenticator."""
    hash_key = app.config["HASH_KEY"].encode()

    def derived(purpose: str) -> str:
        return hmac.digest(hash_key, purpose.encode(), "sha256").hex()

    return {
        "SECURITY_URL_PREFIX": "/beheer",
        "SECURITY_PASSWORD_HASH": "argon2",
        "SECURITY_PASSWORD_SALT": derived("staff-password-salt"),
        "SECURITY_PASSWORD_LENGTH_MIN": 12,
        "SECURITY_TOTP_SECRETS": {"1": derived("staff-totp-secret")},
        "SECURITY_TOTP_ISSUER": "Schuldeiserscoalitie",
        "SECURITY_TWO_FACTOR": True,
        "SECURITY_TWO_FACTOR_REQUIRED": True,
        "SECURITY_TWO_FACTOR_ENABLED_METHODS": ["authenticator"],
        "SECURITY_TWO_FACTOR_ALWAYS_VALIDATE": True,
        "SECURITY_TWO_FACTOR_RESCUE_EMAIL": False,
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES": True,
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES_N": 8,
        "SECURITY_RETURN_GENERIC_RESPONSES": True,
        "SECURITY_REGISTERABLE": False,
        "SECURITY_RECOVERABLE": False,
        "SECURITY_CHANGEABLE": False,
        "SECURITY_CONFIRMABLE": False,
        "SECURITY_DEFAULT_REMEMBER_ME": False,
        "SECURITY_API_ENABLED_METHODS": ["session"],
        "SECURITY_LOGOUT_METHODS": ["POST"],
        "SECURITY_POST_LOGIN_VIEW": "/beheer/",
        "SECURITY_POST_LOGOUT_VIEW": "/beheer/login",
        "SECURITY_TWO_FACTOR_POST_SETUP_VIEW": "/beheer/mf-recovery-codes",
        "SECURITY_UNAUTHORIZED_VIEW": None,  # a staff member without the role: 403
        "SECURITY_LOGIN_USER_TEMPLATE": "staff/login.html",
        "SECURITY_TWO_FACTOR_SETUP_TEMPLATE": "staff/two_factor_setup.html",
        "SECURITY_TWO_FACTOR_VERIFY_CODE_TEMPLATE": "staff/two_factor_verify.html",
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES_TEMPLATE": "staff/recovery_codes.html",
        "SECURITY_MULTI_FACTOR_RECOVERY_TEMPLATE": "staff/recovery.html",
        "SECURITY_LOGOUT_USER_TEMPLATE": "staff/logout.html",
        "SECURITY_VERIFY_TEMPLATE": "staff/verify.html",
        "BABEL_DEFAULT_LOCALE": "nl_NL",
        "SECURITY_I18N_DIRNAME": "builtin",
        # Flask-Security's Dutch translation leaves these empty; the words staff see.
        **{f"SECURITY_MSG_{key}": value for key, value in MESSAGES.items()},
    }


class Dutch:
    """Flask-Security's forms with their own messages in Dutch."""

    class Meta:
        locales = ["nl"]


class Limited(Dutch):
    """A sign-in step with the sign-in's limits: refused without a look at the account once an
    address or a client failed too often; every failure counts, for addresses with or without
    an account. A form says which address it counts for and where the refusal shows."""

    def validate(self, **kwargs) -> bool:
        """Check the limits, then the form; count a failure in the shared database."""
        keys = _login_keys(self._limited_address())
        limits.begin([key for key, _ in keys])
        if limits.would_refuse(keys):
            self._refuse(TOO_MANY)
            return False
        if super().validate(**kwargs):
            return True
        _count_failure(keys)
        return False


class StaffLoginForm(Limited, LoginForm):
    """The sign-in form: the typed address counts."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.email.label.text, self.password.label.text = "E-mailadres", "Wachtwoord"

    def _limited_address(self) -> str:
        return self.email.data or ""

    def _refuse(self, message: str) -> None:
        self.form_errors.append(message)


class LimitedCode(Limited):
    """A second-step form (authenticator or recovery code) with the sign-in's limits, so that
    a code cannot be guessed by trying them all; the account's address counts."""

    code_label = "Code"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.code.label.text = self.code_label

    def _limited_address(self) -> str:
        return getattr(self.user, "email", "") or ""

    def _refuse(self, message: str) -> None:
        self.code.errors = [message]


class StaffCodeForm(LimitedCode, TwoFactorVerifyCodeForm):
    """The code from the authenticator app."""

    code_label = "Code uit de app"


class StaffRecoveryForm(LimitedCode, MfRecoveryForm):
    """A recovery code instead of the app's code."""

    code_label = "Herstelcode"


class StaffSetupForm(Dutch, TwoFactorSetupForm):
    """Setting up two-factor: an authenticator app is the one method."""

    setup = RadioField("Methode", choices=[SelectChoice("authenticator", "Authenticator-app")],
                       validate_choice=False)


class StaffRescueForm(Dutch, TwoFactorRescueForm):
    """No rescue by mail: a lost phone is a recovery code or `mailer staff reset`."""

    # Flask-Security adds "use a recovery code"; its "help" (a mail sent past the outbox) is
    # left out, so it is refused.
    help_setup = RadioField("Hulp nodig?", choices=[])


def _login_keys(email: str) -> list[limits.Action]:
    """The limit keys of a sign-in: the typed address (hashed, in the form sign-in looks the
    account up by, so every spelling of it shares one count) and the client address."""
    config = current_app.config
    account = "staff-login:" + keyed_hash(account_address(email), "staff-login")
    client = "staff-login-ip:" + limits.client_key(request)
    return [(account, limits.windows(config["STAFF_LOGIN_LIMITS"])),
            (client, limits.windows(config["STAFF_LOGIN_LIMITS_PER_IP"]))]


def _count_failure(keys: list[limits.Action]) -> None:
    """Record one failed attempt and commit it at once: the view commits nothing on failure."""
    limits.take([(key, []) for key, _ in keys])
    db.session.commit()


def render_security_page(template: str, **context):
    """Flask-Security's pages in the site's shell, like every other dynamic page.

    Only the pages written for this site are shown; one of Flask-Security's own (a feature
    left off, such as choosing between second factors) is not found.
    """
    if not template.startswith("staff/"):
        abort(404)
    body = render_template(template, **context)
    heading = HEADING.search(body)
    title = Markup(heading.group(1)).striptags() if heading else "Beheer"
    return render_page(SHELL_PAGE, body, title=title, replace=True)


def init_app(app: Flask) -> None:
    """Bind Flask-Security and Babel (Dutch) to the app and add the session rules."""
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["SITE_URL"].startswith("https://")
    for key, value in settings(app).items():
        app.config.setdefault(key, value)
    # Before Flask-Security's own first query (it loads the user), so that a POST's
    # transaction holds SQLite's write lock from its start, as `begin_write` explains.
    app.before_request(_begin_staff_write)
    babel.init_app(app)
    security.init_app(app, datastore, login_form=StaffLoginForm,
                      two_factor_verify_code_form=StaffCodeForm,
                      two_factor_setup_form=StaffSetupForm,
                      two_factor_rescue_form=StaffRescueForm,
                      mf_recovery_form=StaffRecoveryForm,
                      render_template=render_security_page)
    app.before_request(_enforce_timeouts)
    app.after_request(_private)
    user_logged_in.connect(_signed_in, app)
    user_logged_out.connect(_signed_out, app)


def _begin_staff_write() -> None:
    """Begin every staff POST's transaction as a writer."""
    if request.method == "POST" and request.path.startswith("/beheer/"):
        begin_write()


def _enforce_timeouts() -> None:
    """End a staff session idle for 30 minutes or older than 8 hours; note activity.

    Only on the staff's own pages: a public page or the API has nothing to end or note.
    """
    if not request.path.startswith("/beheer/") or "_user_id" not in session:
        return
    config = current_app.config
    now = time.time()
    since, seen = session.get("staff_since", 0), session.get("staff_seen", 0)
    if (now - since > config["STAFF_SESSION_HOURS"] * 3600
            or now - seen > config["STAFF_IDLE_MINUTES"] * 60):
        g.staff_timed_out = True  # ends this session only: see _signed_out
        logout_user()
        for key in ("staff_since", "staff_seen"):
            session.pop(key, None)
        flash("U bent afgemeld omdat uw sessie verlopen is. Meld u opnieuw aan.", "info")
        return
    session["staff_seen"] = now


def _private(response):
    """Staff pages, sign-in included, are personal: never cached, never indexed."""
    if request.path.startswith("/beheer/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _signed_in(app: Flask, user: StaffUser) -> None:
    """A new session at sign-in: nothing from before it stays, and it gets its own id."""
    keep = {key: session[key] for key in ("_user_id", "_fresh", "_id", "fs_cc", "fs_paa",
                                          "fs_gexp", "identity.id", "identity.auth_type")
            if key in session}
    session.clear()  # "_remember" too: no "remember me", the timeouts must hold
    session.update(keep)
    session.permanent = False
    now = time.time()
    session.update(staff_since=now, staff_seen=now)
    record("aangemeld", actor=user.email)


def _signed_out(app: Flask, user: StaffUser) -> None:
    """Signing out ends every session of the account: its session key changes.

    A timeout ends only the session that timed out, and is no sign-out: the account's other
    sessions stay. Every other sign-out is a staff POST, whose transaction began as a writer.
    """
    if user is None or not getattr(user, "is_authenticated", False) or g.get("staff_timed_out"):
        return
    datastore.set_uniquifier(user)
    record("afgemeld", actor=user.email)
    db.session.commit()
