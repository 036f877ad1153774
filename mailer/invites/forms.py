"""The invitation form and the preview's confirmation form, with every refusal in plain Dutch."""

import re

from wtforms import EmailField, StringField
from wtforms.validators import StopValidation, ValidationError

from ..forms import FORMULA_START, PublicForm, check_email, has_control_characters
from ..security import mailbox

NAME_MAX = 50
COLLEAGUE_FIELDS = ("collega_1", "collega_2", "collega_3")
# Letters (any script), combining marks, spaces, hyphens, apostrophes and full stops: every real
# name, and nothing a mail header, a spreadsheet or a browser would treat as code.
NAME_CHARS = re.compile(r"^(?:[^\W\d_]|[\u0300-\u036f '’.-])+$")
LOOKS_LIKE_URL = re.compile(r"(://|www\.|\.[^\W\d_]{2,})", re.I)


def clean_name(value: str) -> str:
    """A checked name with its spaces tidied."""
    return " ".join(value.split())


def check_name(value: str, what: str) -> None:
    """Refuse a name that could carry a link, code, a formula or a header trick."""
    if not value.strip():
        raise StopValidation(f"Vul uw {what} in.")
    if has_control_characters(value):
        raise StopValidation(f"Uw {what} mag geen regeleinde, tab of onzichtbaar teken bevatten.")
    value = clean_name(value)
    if len(value) > NAME_MAX:
        raise StopValidation(f"Uw {what} mag niet langer zijn dan {NAME_MAX} tekens.")
    if value.startswith(FORMULA_START):
        raise StopValidation(f"Uw {what} mag niet beginnen met =, +, - of @.")
    if "<" in value or ">" in value:
        raise StopValidation(f"Uw {what} mag geen < of > bevatten.")
    if LOOKS_LIKE_URL.search(value):
        raise StopValidation(f"Uw {what} mag geen webadres bevatten. Zet een spatie na een punt.")
    if not NAME_CHARS.match(value):
        raise StopValidation(
            f"Gebruik in uw {what} alleen letters, spaties, koppeltekens, apostroffen en punten."
        )


def single_value(field) -> None:
    """Refuse a field sent more than once: that is a way to slip in extra recipients."""
    if field.raw_data and len(field.raw_data) > 1:
        raise StopValidation("Vul dit veld maar één keer in.")


class InviteForm(PublicForm):
    """The sender's name and one to three colleagues' addresses; nothing else to fill in."""

    name = "invite"
    voornaam = StringField("Uw voornaam", render_kw={"autocomplete": "given-name",
                                                     "maxlength": NAME_MAX})
    achternaam = StringField("Uw achternaam", render_kw={"autocomplete": "family-name",
                                                         "maxlength": NAME_MAX})
    collega_1 = EmailField("E-mailadres collega 1", render_kw={"autocomplete": "off"})
    collega_2 = EmailField("E-mailadres collega 2 (niet verplicht)",
                           render_kw={"autocomplete": "off"})
    collega_3 = EmailField("E-mailadres collega 3 (niet verplicht)",
                           render_kw={"autocomplete": "off"})
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
            raise StopValidation("Vul het e-mailadres van minstens één collega in.")
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
            raise ValidationError("Dit e-mailadres staat al in een ander veld.")
        self.addresses.append(address)

    def validate(self, extra_validators=None):
        """Check every field, then refuse a fourth colleague sent by hand."""
        self.addresses = []
        valid = super().validate(extra_validators)
        if self.extra_keys:
            self.form_errors.append("U kunt één tot drie collega's tippen.")
            return False
        return valid

    @property
    def pending(self) -> dict:
        """The checked values that travel, signed, to the preview."""
        return {"voornaam": clean_name(self.voornaam.data),
                "achternaam": clean_name(self.achternaam.data), "to": self.addresses}

