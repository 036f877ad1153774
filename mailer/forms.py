"""What the public forms share: the e-mail rule, the control-character check, the bot traps and
the answer when a limit is reached."""

import secrets
import time
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask import current_app, session
from flask_wtf import FlaskForm
from itsdangerous import BadData
from wtforms import HiddenField, StringField
from wtforms.validators import StopValidation, ValidationError

from .pages import render_message
from .security import serializer
from .words import say, words

ADDRESS_MAX = 254  # RFC 5321's limit on a forward path
# What a spreadsheet reads as the start of a formula.
FORMULA_START = ("=", "+", "-", "@")


def has_control_characters(value: str) -> bool:
    """True for line breaks, NUL, tabs and invisible format characters (such as bidi overrides).

    None of them belongs in a one-line field, and CR/LF could end up in a mail header.
    """
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in value)


def check_email(value: str) -> str:
    """One bare address that can be sent, normalised; ValueError with the reason otherwise, in
    the words of `content/formulieren.yml`.

    The part before the @ must be ASCII (not every mail server takes more); a domain in another
    script is stored and sent as its IDNA 2008 punycode form. At most 254 characters after that.
    """
    if has_control_characters(value):
        raise ValueError(say("formulieren", "email.regeleinde"))
    value = value.strip()
    if "," in value or ";" in value:
        raise ValueError(say("formulieren", "email.meer_adressen"))
    if any(char in value for char in "<>\"()[]\\"):
        raise ValueError(say("formulieren", "email.naam_erbij"))
    if " " in value:
        raise ValueError(say("formulieren", "email.spaties"))
    if len(value) > ADDRESS_MAX:
        raise ValueError(say("formulieren", "email.te_lang", max=ADDRESS_MAX))
    local = value.rpartition("@")[0]
    if local and not local.isascii():
        raise ValueError(say("formulieren", "email.accenten"))
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValueError(say("formulieren", "email.ongeldig")) from None
    if len(result.ascii_email) > ADDRESS_MAX:
        raise ValueError(say("formulieren", "email.te_lang", max=ADDRESS_MAX))
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


class Said:
    """A WTForms validator whose message is a text of a data file in content/, looked up when
    the message is shown, so a change to the file shows without a restart. `{max}` in it is the
    validator's own maximum (of `Length`)."""

    def __init__(self, validator, words_file: str, key: str):
        self.validator, self.words_file, self.key = validator, words_file, key
        self.field_flags = getattr(validator, "field_flags", {})  # e.g. `required`, `maxlength`

    def __call__(self, form, field) -> None:
        try:
            self.validator(form, field)
        except (StopValidation, ValidationError) as error:  # StopValidation ends the checks
            message = say(self.words_file, self.key, max=getattr(self.validator, "max", ""))
            raise type(error)(message) from None


class PublicForm(FlaskForm):
    """A form anyone may send: its words from content/, and two bot traps that need no third
    party.

    `words_file` names the data file in content/ whose `velden` give each field its `label` and
    an optional `uitleg` (the hint below the label, as the field's description).

    The traps are a field people never see (`fax`) and the signed moment the form was shown
    (`started`): a form sent back sooner than the minimum time was not filled in by a person.
    The stamp belongs to the browser session that got it and lasts `FORM_MAX_AGE` seconds, so
    a bot cannot fetch one stamp and send it along with many forms.
    """

    class Meta:
        locales = ["nl"]

    name = "form"  # names the form's stamps, so one form's stamp does not fit another
    words_file: str  # the data file in content/ with the `velden` of this form
    fax = StringField(render_kw={"tabindex": "-1", "autocomplete": "off"})
    started = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = words(self.words_file)["velden"]
        for name, field in self._fields.items():
            if name in ("csrf_token", "started"):
                continue
            if name == "fax":
                field.label.text = say("formulieren", "leeg_veld")
                continue
            field.label.text = fields[name]["label"]
            field.description = fields[name].get("uitleg", "")

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
            reason = "onvolledig"
        elif elapsed > min_seconds:
            reason = "te_lang_open"
        else:
            reason = "te_snel"
        self.form_errors.append(say("formulieren", f"haast.{reason}", opnieuw=again))
        self.stamp()
        return True


def limited(url_path: str, page):
    """The clear "try later" (429) of a form, with `Retry-After` from `LIMIT_RETRY_AFTER`.

    `page` is the answer page's words; `{wacht}` in them says how long.
    """
    seconds = current_app.config["LIMIT_RETRY_AFTER"]
    hours, minutes = round(seconds / 3600), max(1, round(seconds / 60))
    if seconds < 3600:
        wait = say("formulieren", "wachttijd.minuten", minuten=minutes)
    elif hours == 1:
        wait = say("formulieren", "wachttijd.een_uur")
    else:
        wait = say("formulieren", "wachttijd.uren", uren=hours)
    return render_message(url_path, page, status=429, headers={"Retry-After": str(seconds)},
                          wacht=wait)
