"""The staff area's forms; each one carries a CSRF token like every form of the service."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ..adoptions.forms import SECTORS, check_plain_text, check_website
from ..forms import check_email, cleaned_by


class StaffForm(FlaskForm):
    """A staff form: Dutch messages."""

    class Meta:
        locales = ["nl"]


class ActionForm(StaffForm):
    """A button that does one thing (approve, unlist, retry): only its CSRF token, which
    CSRFProtect checks before the view runs."""


class RejectForm(StaffForm):
    """Reject a registration: the reason is mailed to the contact."""

    reason = TextAreaField("Reden van afwijzen (de contactpersoon krijgt die te zien)",
                           validators=[DataRequired("Geef een reden op om af te wijzen."),
                                       Length(max=2000, message="Een reden is hoogstens 2000 "
                                              "tekens lang.")])


class BeforeRegistryForm(StaffForm):
    """How many companies adopted the policy before the online registry."""

    number = IntegerField("Aantal deelnemers van vóór het register",
                          validators=[InputRequired("Vul een aantal in."),
                                      NumberRange(0, 100000, "Vul een aantal van 0 of meer in.")])


_plain = cleaned_by(check_plain_text)
_website = cleaned_by(check_website)


class AdopterForm(StaffForm):
    """The public fields of an adopter."""

    company_name = StringField("Naam van de onderneming",
                               validators=[DataRequired("Vul de naam in."), Length(max=200),
                                           _plain])
    sector = SelectField("Sector", choices=[SelectChoice(code, label)
                                            for code, label in SECTORS.items()])
    # check_website makes an empty or blank field None.
    website = StringField("Website (mag leeg)", validators=[Length(max=200), _website])
    list_publicly = BooleanField("Op de openbare lijst")


class NewAdopterForm(AdopterForm):
    """An adopter added by hand, approved at once."""

    kvk = StringField("KvK-nummer", validators=[DataRequired("Vul het KvK-nummer in.")])
    contact_name = StringField("Contactpersoon (mag leeg)", validators=[Length(max=100), _plain])
    contact_email = EmailField("E-mailadres contactpersoon (mag leeg)")

    def validate_contact_email(self, field) -> None:
        """An optional address, one bare address."""
        if field.data:
            cleaned_by(check_email)(self, field)


class ImportForm(StaffForm):
    """A CSV file of adopters, shown as a preview before anything is stored."""

    file = FileField("CSV-bestand", validators=[FileRequired("Kies een bestand.")])


class ImportConfirmForm(StaffForm):
    """Store the previewed CSV: its text travels signed in a hidden field."""

    csv_text = HiddenField()


class AddressForm(StaffForm):
    """An address typed by staff, only ever compared by its keyed hash."""

    address = EmailField("E-mailadres", validators=[DataRequired("Vul een e-mailadres in."),
                                                    cleaned_by(check_email)])
