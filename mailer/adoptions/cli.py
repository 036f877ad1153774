"""`mailer adoptions ...`: review registrations and keep the counter right from the command line."""

import click
from flask.cli import with_appcontext

from .registry import adopters_before_registry, adoption_count, set_adopters_before_registry


@click.group()
def adoptions():
    """Aanmeldingen en de teller van ondernemingen."""


@adoptions.command("before-registry")
@click.argument("number", type=click.IntRange(min=0), required=False)
@with_appcontext
def before_registry(number: int | None):
    """Toon of zet het aantal ondernemingen dat meedeed vóór het online register."""
    if number is not None:
        set_adopters_before_registry(number)
    click.echo(f"Vóór het register: {adopters_before_registry()}; "
               f"teller nu: {adoption_count()['count']}")
