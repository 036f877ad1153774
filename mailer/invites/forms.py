"""The invitation form and the preview's confirmation form, with every refusal in plain Dutch."""

import re

from wtforms import EmailField, StringField
from wtforms.validators import StopValidation, ValidationError

from ..forms import FORMULA_START, PublicForm, check_email, has_control_characters
from ..security import mailbox
from ..words import say

WORDS = "tip-een-collega"  # the data file in content/ with this form's words
NAME_MAX = 50
COLLEAGUE_FIELDS = ("collega_1", "collega_2", "collega_3")
# Letters (any script), combining marks, spaces, hyphens, apostrophes and full stops: every real
# name, and nothing a mail header, a spreadsheet or a browser would treat as code.
NAME_CHARS = re.compile(r"^(?:[^\W\d_]|[\u0300-\u036f '’.-])+$")
LOOKS_LIKE_URL = re.compile(r"(://|www\.|\.[^\W\d_]{2,})", re.I)


def clean_name(value: str) -> str:
    """A checked name with its spaces tidied."""
    return " ".join(value.split())


def refuse(key: str, **values) -> StopValidation:
    """A refusal in the words of content/tip-een-collega.yml."""
    return StopValidation(say(WORDS, f"fouten.{key}", **values))


def check_name(value: str, field: str) -> None:
    """Refuse a name that could carry a link, code, a formula or a header trick."""
    what = say(WORDS, f"fouten.{field}")
    if not value.strip():
        raise refuse("naam_leeg", wat=what)
    if has_control_characters(value):
        raise refuse("naam_regeleinde", wat=what)
    value = clean_name(value)
    if len(value) > NAME_MAX:
        raise refuse("naam_te_lang", wat=what, max=NAME_MAX)
    if value.startswith(FORMULA_START):
        raise refuse("naam_formule", wat=what)
    if "<" in value or ">" in value:
        raise refuse("naam_haakjes", wat=what)
    if LOOKS_LIKE_URL.search(value):
        raise refuse("naam_webadres", wat=what)
    if not NAME_CHARS.match(value):
        raise refuse("naam_tekens", wat=what)


def single_value(field) -> None:
    """Refuse a field sent more than once: that is a way to slip in extra recipients."""
    if field.raw_data and len(field.raw_data) > 1:
        raise StopValidation(say("formulieren", "een_keer"))


class InviteForm(PublicForm):
    """The sender's name and one to three colleagues' addresses; nothing else to fill in."""

    name = "invite"
    words_file = WORDS
    voornaam = StringField(render_kw={"autocomplete": "given-name", "maxlength": NAME_MAX})
    achternaam = StringField(render_kw={"autocomplete": "family-name", "maxlength": NAME_MAX})
    collega_1 = EmailField(render_kw={"autocomplete": "off"})
    collega_2 = EmailField(render_kw={"autocomplete": "off"})
    collega_3 = EmailField(render_kw={"autocomplete": "off"})

    def __init__(self, *args, extra_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_keys = [key for key in extra_keys if key.startswith("collega_")
                           and key not in COLLEAGUE_FIELDS]
        self.addresses: list[str] = []

    def validate_voornaam(self, field):
        """The first name: letters and the like, at most 50 characters."""
        single_value(field)
        check_name(field.data or "", "voornaam")

    def validate_achternaam(self, field):
        """The last name: letters and the like, at most 50 characters."""
        single_value(field)
        check_name(field.data or "", "achternaam")

    def validate_collega_1(self, field):
        """The first colleague's address is required."""
        single_value(field)
        if not (field.data or "").strip():
            raise refuse("geen_collega")
        self._check_colleague(field)

    def validate_collega_2(self, field):
        """An optional second address."""
        self._check_colleague(field)

    def validate_collega_3(self, field):
        """An optional third address."""
        self._check_colleague(field)

    def _check_colleague(self, field):
        """One bare address per field, never the same colleague twice."""
        single_value(field)
        if not (field.data or "").strip():
            return
        try:
            address = check_email(field.data)
        except ValueError as error:
            raise StopValidation(str(error)) from None
        # The same mailbox as the limits see it: case and a +tag aside.
        if mailbox(address) in (mailbox(known) for known in self.addresses):
            raise ValidationError(say(WORDS, "fouten.dubbel"))
        self.addresses.append(address)

    def validate(self, extra_validators=None):
        """Check every field, then refuse a fourth colleague sent by hand."""
        self.addresses = []
        valid = super().validate(extra_validators)
        if self.extra_keys:
            self.form_errors.append(say(WORDS, "fouten.te_veel_collegas"))
            return False
        return valid

    @property
    def pending(self) -> dict:
        """The checked values that travel, signed, to the preview."""
        return {"voornaam": clean_name(self.voornaam.data),
                "achternaam": clean_name(self.achternaam.data), "to": self.addresses}

