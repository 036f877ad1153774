"""The registration form, and the checks it shares with the staff CSV import."""

import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

import idna
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField, URLField
from wtforms.validators import DataRequired, Length, ValidationError

from ..forms import (
    FORMULA_START,
    PublicForm,
    Said,
    check_email,
    cleaned_by,
    has_control_characters,
)
from ..words import say, words

WORDS = "meedoen"  # the data file in content/ with this form's words

# The creditors that collect from households: code stored in the database (kept stable where the
# meaning stayed the same), Dutch label shown, in the order the form lists them.
SECTORS = {
    "bank": "Banken en kredietverstrekkers",
    "verzekeraar": "Verzekeringen",
    "energie": "Energie",
    "water": "Water",
    "telecom": "Telecom",
    "wonen": "Wonen en woningcorporaties",
    "zorg": "Zorg",
    "winkel": "Winkels en webwinkels",
    "overheid": "Gemeenten en overheid",
    "incasso": "Incassobureaus en gerechtsdeurwaarders",
    "overig": "Overig",
}

MARKUP = re.compile(r"<\s*/?\s*[a-z!]|javascript:", re.I)
KVK = re.compile(r"[0-9]{8}")
WEBSITE_MAX = 200
# Characters a web address never needs unencoded, and that could break out of an HTML attribute.
UNSAFE_IN_URL = set(" \"'<>`\\{}|^")
URL_SAFE = "/%:@!$&()*+,;=-._~"
HOSTNAME = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.I)


def check_plain_text(value: str) -> str:
    """Refuse line breaks, control characters, HTML and spreadsheet formulas in a one-line field.

    Returns the value with its spaces tidied.
    """
    if has_control_characters(value):
        raise ValueError(say("formulieren", "regeleinde"))
    if MARKUP.search(value):
        raise ValueError(say("formulieren", "code"))
    value = " ".join(value.split())
    if value.startswith(FORMULA_START):
        raise ValueError(say("formulieren", "formule"))
    return value


def check_kvk(value: str) -> str:
    """A KvK number: exactly 8 digits, spaces allowed between them."""
    value = check_plain_text(value).replace(" ", "")
    if not KVK.fullmatch(value):
        raise ValueError(say(WORDS, "fouten.kvk"))
    return value


def check_website(value: str) -> str | None:
    """An optional web address of http or https only, parsed and normalised.

    `www.example.nl` gets `https://`; the host is stored in lower case and as punycode.
    """
    if has_control_characters(value):
        raise ValueError(say("formulieren", "regeleinde"))
    value = value.strip()
    if not value:
        return None
    if "://" not in value and ":" not in value.split("/")[0]:
        value = "https://" + value
    invalid = ValueError(say(WORDS, "fouten.website"))
    try:
        parts = urlsplit(value)
    except ValueError:
        raise invalid from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(say(WORDS, "fouten.website_begin"))
    try:
        port = parts.port
        host = idna.encode(parts.hostname or "", uts46=True).decode("ascii")
    except (ValueError, idna.IDNAError):
        raise invalid from None
    if (parts.username or parts.password or not HOSTNAME.fullmatch(host)
            or any(char in value for char in UNSAFE_IN_URL)):
        raise invalid
    if MARKUP.search(value):  # `javascript:` further on; markup cannot pass UNSAFE_IN_URL
        raise ValueError(say("formulieren", "code"))
    netloc = host if port is None else f"{host}:{port}"
    normalised = urlunsplit((parts.scheme.lower(), netloc, quote(parts.path, safe=URL_SAFE),
                             quote(parts.query, safe=URL_SAFE + "?"), ""))
    if len(normalised) > WEBSITE_MAX:
        raise ValueError(say(WORDS, "fouten.website_te_lang", max=WEBSITE_MAX))
    return normalised


def check_sector(value: str) -> str:
    """A sector code, given as code or Dutch label in any case."""
    wanted = value.strip().lower()
    for code, label in SECTORS.items():
        if wanted in (code, label.lower()):
            return code
    raise ValueError(say(WORDS, "fouten.sector_in_bestand", sectoren=", ".join(SECTORS)))


def slugify(name: str) -> str:
    """A URL part from a company name: `Woonstichting 't Gooi` becomes `woonstichting-t-gooi`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    # At most 180 characters: room for "-<kvk>" and more within the column's 220.
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:180].strip("-")
    return slug or "onderneming"


class RegistrationForm(PublicForm):
    """A company registers that it adopted the social collection policy."""

    name = "join"
    words_file = WORDS

    company_name = StringField(
        validators=[Said(DataRequired(), WORDS, "fouten.naam_leeg"),
                    Said(Length(max=200), WORDS, "fouten.naam_te_lang"),
                    cleaned_by(check_plain_text)],
        render_kw={"autocomplete": "organization"},
    )
    kvk = StringField(
        validators=[Said(DataRequired(), WORDS, "fouten.kvk_leeg"), cleaned_by(check_kvk)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    sector = SelectField(
        validators=[Said(DataRequired(), WORDS, "fouten.sector_leeg")],
        validate_choice=False,  # validate_sector gives a clearer message than WTForms' own
    )
    website = URLField(
        validators=[cleaned_by(check_website)],
        render_kw={"autocomplete": "url", "spellcheck": "false"},
    )
    contact_name = StringField(
        validators=[Said(DataRequired(), WORDS, "fouten.contactpersoon_leeg"),
                    Said(Length(max=100), WORDS, "fouten.contactpersoon_te_lang"),
                    cleaned_by(check_plain_text)],
        render_kw={"autocomplete": "name"},
    )
    contact_email = EmailField(
        validators=[Said(DataRequired(), WORDS, "fouten.email_leeg"),
                    Said(Length(max=254), WORDS, "fouten.email_te_lang"),
                    cleaned_by(check_email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    adopted_policy = BooleanField(validators=[Said(DataRequired(), WORDS, "fouten.beleid")])
    warm_referral = BooleanField()
    list_publicly = BooleanField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sector.choices = [SelectChoice("", words(WORDS).velden.sector.kies)] + [
            SelectChoice(code, label) for code, label in SECTORS.items()]

    def validate_sector(self, field):
        """One of the fixed sectors."""
        if field.data not in SECTORS:
            raise ValidationError(say(WORDS, "fouten.sector"))
