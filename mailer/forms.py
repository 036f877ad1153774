"""What the public forms share: the e-mail rule, the control-character check, the bot traps and
the answer when a limit is reached."""

import secrets
import time
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template, session
from flask_wtf import FlaskForm
from itsdangerous import BadData
from wtforms import HiddenField, StringField
from wtforms.validators import ValidationError

from .pages import render_page
from .security import serializer

ADDRESS_MAX = 254  # RFC 5321's limit on a forward path
CONTROL_MESSAGE = "Gebruik geen regeleinde (Enter), tab of onzichtbaar teken."
# What a spreadsheet reads as the start of a formula.
FORMULA_START = ("=", "+", "-", "@")


def has_control_characters(value: str) -> bool:
    """True for line breaks, NUL, tabs and invisible format characters (such as bidi overrides).

    None of them belongs in a one-line field, and CR/LF could end up in a mail header.
    """
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in value)


def check_email(value: str) -> str:
    """One bare address that can be sent, normalised; ValueError with a Dutch reason otherwise.

    The part before the @ must be ASCII (not every mail server takes more); a domain in another
    script is stored and sent as its IDNA 2008 punycode form. At most 254 characters after that.
    """
    if has_control_characters(value):
        raise ValueError("Een e-mailadres mag geen regeleinde, tab of onzichtbaar teken bevatten.")
    value = value.strip()
    if "," in value or ";" in value:
        raise ValueError("Vul per veld één e-mailadres in.")
    if any(char in value for char in "<>\"()[]\\"):
        raise ValueError("Vul alleen het e-mailadres in, zonder naam, haakjes of aanhalingstekens.")
    if " " in value:
        raise ValueError("Een e-mailadres mag geen spaties bevatten.")
    if len(value) > ADDRESS_MAX:
        raise ValueError(f"Een e-mailadres mag niet langer zijn dan {ADDRESS_MAX} tekens.")
    local = value.rpartition("@")[0]
    if local and not local.isascii():
        raise ValueError("Gebruik vóór de @ alleen letters zonder accenten, cijfers en tekens als "
                         ". - _ +. Dit adres kunnen wij niet versturen.")
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValueError("Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl.") from None
    if len(result.ascii_email) > ADDRESS_MAX:
        raise ValueError(f"Een e-mailadres mag niet langer zijn dan {ADDRESS_MAX} tekens.")
    return result.ascii_email


def cleaned_by(check):
    """A form validator that runs one of these checks on a field and keeps the cleaned value,
    or shows the check's Dutch message at the field."""

    def validate(form, field) -> None:
        try:
            field.data = check(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None

    return validate


class PublicForm(FlaskForm):
    """A form anyone may send: Dutch messages and two bot traps that need no third party.

    The traps are a field people never see (`fax`) and the signed moment the form was shown
    (`started`): a form sent back sooner than the minimum time was not filled in by a person.
    The stamp belongs to the browser session that got it and lasts `FORM_MAX_AGE` seconds, so
    a bot cannot fetch one stamp and send it along with many forms.
    """

    class Meta:
        locales = ["nl"]

    name = "form"  # names the form's stamps, so one form's stamp does not fit another
    fax = StringField("Laat dit veld leeg", render_kw={"tabindex": "-1", "autocomplete": "off"})
    started = HiddenField()

    def stamp(self) -> None:
        """Stamp the form with this moment and this browser session, when it is shown."""
        owner = session.setdefault("forms", secrets.token_urlsafe(16))
        self.started.data = serializer(f"{self.name}-started").dumps([time.time(), owner])

    def seconds_open(self) -> float | None:
        """Seconds since the form was shown, or None when the stamp is missing, forged or not
        this session's."""
        try:
            started, owner = serializer(f"{self.name}-started").loads(self.started.data or "")
            elapsed = time.time() - float(started)
        except (BadData, TypeError, ValueError):
            return None
        return elapsed if owner == session.get("forms") else None

    @property
    def is_bot(self) -> bool:
        """True when the field people cannot see was filled in."""
        return bool(self.fax.data)

    def refuse_hasty(self, min_seconds: float, again: str) -> bool:
        """True, with a form error and a fresh stamp, when the form came back forged or too fast.

        A person who autofills a form can be quick: the message asks them to check and send it
        again (`again` names how), and the fresh stamp lets that second try through.
        """
        elapsed = self.seconds_open()
        if elapsed is not None and min_seconds <= elapsed <= current_app.config["FORM_MAX_AGE"]:
            return False
        if elapsed is None:
            self.form_errors.append(f"Het formulier was niet compleet. Controleer de gegevens en "
                                    f"{again}.")
        elif elapsed > min_seconds:
            self.form_errors.append(f"Het formulier stond te lang open. Controleer de gegevens "
                                    f"en {again}.")
        else:
            self.form_errors.append(f"Dat ging erg snel. Controleer de gegevens en {again}.")
        self.stamp()
        return True


def limited(url_path: str, template: str):
    """The clear "try later" (429) of a form, with `Retry-After` from `LIMIT_RETRY_AFTER`."""
    seconds = current_app.config["LIMIT_RETRY_AFTER"]
    hours, minutes = round(seconds / 3600), max(1, round(seconds / 60))
    wait = f"{minutes} minuten" if seconds < 3600 else "een uur" if hours == 1 else f"{hours} uur"
    body = render_template(template, wait=wait)
    return render_page(url_path, body, title="Probeer het later opnieuw", status=429,
                       replace=True, headers={"Retry-After": str(seconds)})
