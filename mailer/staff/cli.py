"""`mailer staff`: staff accounts are made, reset and removed here only, never on the site."""

import getpass

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_security.utils import hash_password
from sqlalchemy import select

from ..extensions import db
from ..models import StaffUser
from .audit import record
from .auth import account_address, datastore, staff_address

ROLES = {"staff": "Beoordelen, deelnemers, cijfers", "admin": "Ook accounts en instellingen"}


def _actor() -> str:
    """Who ran the command, for the audit log."""
    try:
        return f"opdrachtregel ({getpass.getuser()})"
    except OSError:
        return "opdrachtregel"


def _password() -> str:
    """Ask for a new password twice, without echo; return it as sign-in compares it
    (Flask-Security's normalised form), so a password with accents signs in."""
    while True:
        password = click.prompt("Wachtwoord", hide_input=True,
                                confirmation_prompt="Nog een keer ter controle")
        errors, normalised = current_app.extensions["security"].password_util.validate(
            password, is_register=True)
        if not errors:
            return normalised
        minimum = current_app.config["SECURITY_PASSWORD_LENGTH_MIN"]
        click.echo(f"Kies een wachtwoord van minstens {minimum} tekens (en hoogstens 128).",
                   err=True)


def _account(email: str) -> StaffUser:
    """The account of an address, or a clear error."""
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == account_address(email)))
    if user is None:
        raise click.ClickException(f"Er is geen account voor {email}.")
    return user


@click.group()
def staff():
    """Accounts voor het beheer op /beheer/."""


@staff.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Ook beheerder van accounts en instellingen.")
@with_appcontext
def add(email: str, admin: bool):
    """Maak een account; het wachtwoord wordt gevraagd. Bij de eerste aanmelding stelt de
    medewerker de authenticator-app in en krijgt herstelcodes."""
    try:
        email = staff_address(email)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if db.session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise click.ClickException(f"Er is al een account voor {email}.")
    password = _password()
    roles = [datastore.find_or_create_role(name, description=ROLES[name])
             for name in (("staff", "admin") if admin else ("staff",))]
    datastore.create_user(email=email, password=hash_password(password), roles=roles)
    record("account gemaakt", email, "admin" if admin else "staff", actor=_actor())
    db.session.commit()
    click.echo(f"Account gemaakt voor {email}. Meld u aan op /beheer/ en stel de "
               "authenticator-app in.")


@staff.command("remove")
@click.argument("email")
@with_appcontext
def remove(email: str):
    """Verwijder een account; het is meteen overal afgemeld."""
    user = _account(email)
    db.session.delete(user)
    record("account verwijderd", user.email, actor=_actor())
    db.session.commit()
    click.echo(f"Account van {user.email} verwijderd.")


@staff.command("reset")
@click.argument("email")
@with_appcontext
def reset(email: str):
    """Nieuw wachtwoord en de authenticator-app opnieuw instellen (telefoon kwijt)."""
    user = _account(email)
    user.password = hash_password(_password())
    datastore.reset_user_access(user)  # app and recovery codes gone; every session ends
    record("account hersteld", user.email, "nieuw wachtwoord, tweede stap opnieuw instellen",
           actor=_actor())
    db.session.commit()
    click.echo(f"{user.email} heeft een nieuw wachtwoord. Bij de volgende aanmelding stelt de "
               "medewerker de authenticator-app opnieuw in.")


@staff.command("list")
@with_appcontext
def list_accounts():
    """Toon de accounts en hun rollen."""
    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.email)):
        roles = ", ".join(role.name for role in user.roles)
        second = "ingesteld" if user.tf_primary_method else "nog niet ingesteld"
        click.echo(f"{user.email}\t{roles}\ttweede stap {second}")
