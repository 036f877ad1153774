"""The registration form, and the checks it shares with the staff CSV import."""

import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

import idna
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField, URLField
from wtforms.validators import DataRequired, Length, ValidationError

from ..forms import (
    CONTROL_MESSAGE,
    FORMULA_START,
    PublicForm,
    check_email,
    cleaned_by,
    has_control_characters,
)

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
CODE_MESSAGE = "Gebruik geen HTML of code, zoals <script> of javascript:."
KVK = re.compile(r"[0-9]{8}")
# Characters a web address never needs unencoded, and that could break out of an HTML attribute.
UNSAFE_IN_URL = set(" \"'<>`\\{}|^")
URL_SAFE = "/%:@!$&()*+,;=-._~"
HOSTNAME = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.I)


def check_plain_text(value: str) -> str:
    """Refuse line breaks, control characters, HTML and spreadsheet formulas in a one-line field.

    Returns the value with its spaces tidied.
    """
    if has_control_characters(value):
        raise ValueError(CONTROL_MESSAGE)
    if MARKUP.search(value):
        raise ValueError(CODE_MESSAGE)
    value = " ".join(value.split())
    if value.startswith(FORMULA_START):
        raise ValueError("Begin niet met =, +, - of @: een spreadsheet leest dat als formule.")
    return value


def check_kvk(value: str) -> str:
    """A KvK number: exactly 8 digits, spaces allowed between them."""
    value = check_plain_text(value).replace(" ", "")
    if not KVK.fullmatch(value):
        raise ValueError("Een KvK-nummer heeft precies 8 cijfers, bijvoorbeeld 12345678.")
    return value


def check_website(value: str) -> str | None:
    """An optional web address of http or https only, parsed and normalised.

    `www.example.nl` gets `https://`; the host is stored in lower case and as punycode.
    """
    if has_control_characters(value):
        raise ValueError(CONTROL_MESSAGE)
    value = value.strip()
    if not value:
        return None
    if "://" not in value and ":" not in value.split("/")[0]:
        value = "https://" + value
    invalid = ValueError("Vul een geldig webadres in, bijvoorbeeld https://www.voorbeeld.nl.")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise invalid from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Het webadres moet beginnen met http:// of https://.")
    try:
        port = parts.port
        host = idna.encode(parts.hostname or "", uts46=True).decode("ascii")
    except (ValueError, idna.IDNAError):
        raise invalid from None
    if (parts.username or parts.password or not HOSTNAME.fullmatch(host)
            or any(char in value for char in UNSAFE_IN_URL)):
        raise invalid
    if MARKUP.search(value):  # `javascript:` further on; markup cannot pass UNSAFE_IN_URL
        raise ValueError(CODE_MESSAGE)
    netloc = host if port is None else f"{host}:{port}"
    normalised = urlunsplit((parts.scheme.lower(), netloc, quote(parts.path, safe=URL_SAFE),
                             quote(parts.query, safe=URL_SAFE + "?"), ""))
    if len(normalised) > 200:
        raise ValueError("Het webadres mag niet langer zijn dan 200 tekens.")
    return normalised


def check_sector(value: str) -> str:
    """A sector code, given as code or Dutch label in any case."""
    wanted = value.strip().lower()
    for code, label in SECTORS.items():
        if wanted in (code, label.lower()):
            return code
    raise ValueError("Kies een sector uit de lijst: " + ", ".join(SECTORS) + ".")


def slugify(name: str) -> str:
    """A URL part from a company name: `Woonstichting 't Gooi` becomes `woonstichting-t-gooi`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    # At most 180 characters: room for "-<kvk>" and more within the column's 220.
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:180].strip("-")
    return slug or "onderneming"


class RegistrationForm(PublicForm):
    """A company registers that it adopted the social collection policy."""

    name = "join"

    company_name = StringField(
        "Naam van de onderneming",
        validators=[DataRequired("Vul de naam van uw onderneming in."),
                    Length(max=200, message="De naam mag niet langer zijn dan 200 tekens."),
                    cleaned_by(check_plain_text)],
        render_kw={"autocomplete": "organization"},
    )
    kvk = StringField(
        "KvK-nummer",
        validators=[DataRequired("Vul het KvK-nummer van uw onderneming in."),
                    cleaned_by(check_kvk)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    sector = SelectField(
        "Sector",
        choices=[SelectChoice("", "Kies een sector")]
        + [SelectChoice(code, label) for code, label in SECTORS.items()],
        validators=[DataRequired("Kies de sector van uw onderneming.")],
        validate_choice=False,  # validate_sector gives a clearer message than WTForms' own
    )
    website = URLField(
        "Website (niet verplicht)",
        validators=[cleaned_by(check_website)],
        render_kw={"autocomplete": "url", "spellcheck": "false"},
    )
    contact_name = StringField(
        "Naam van de contactpersoon",
        validators=[DataRequired("Vul de naam van de contactpersoon in."),
                    Length(max=100, message="De naam mag niet langer zijn dan 100 tekens."),
                    cleaned_by(check_plain_text)],
        render_kw={"autocomplete": "name"},
    )
    contact_email = EmailField(
        "E-mailadres van de contactpersoon",
        validators=[DataRequired("Vul het e-mailadres van de contactpersoon in."),
                    Length(max=254, message="Het e-mailadres is te lang."),
                    cleaned_by(check_email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    adopted_policy = BooleanField(
        "Onze onderneming heeft het sociaal incassobeleid ingevoerd.",
        validators=[DataRequired(
            "Vink aan dat uw onderneming het sociaal incassobeleid heeft ingevoerd. "
            "Alleen dan kunt u zich aanmelden."
        )],
    )
    warm_referral = BooleanField("Wij doen mee aan Warm doorverwijzen.")
    list_publicly = BooleanField("Onze onderneming mag op de openbare lijst van deelnemers staan.")

    def validate_sector(self, field):
        """One of the fixed sectors."""
        if field.data not in SECTORS:
            raise ValidationError("Kies een sector uit de lijst.")
