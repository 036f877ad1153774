"""`mailer adoptions ...`: review registrations and keep the counter right from the command line."""

import click
from flask.cli import with_appcontext

from ..extensions import db
from . import registry
from .forms import SECTORS


@click.group()
def adoptions():
    """Aanmeldingen en de teller van ondernemingen."""


@adoptions.command("list")
@click.option("--status", type=click.Choice(list(registry.STATUS_NAMES)),
              help="Toon alleen aanmeldingen met deze status.")
@with_appcontext
def list_registrations(status: str | None):
    """Toon de aanmeldingen: KvK, onderneming, status en datums."""
    rows = registry.registrations(status)
    if not rows:
        click.echo("Geen aanmeldingen.")
        return
    header = ("id", "KvK", "onderneming", "sector", "status", "lijst", "aangemeld", "bevestigd",
              "besloten")
    table = [header] + [
        (str(r.id), r.kvk, _printable(r.company_name)[:40], r.sector,
         registry.STATUS_NAMES[r.status],
         "ja" if r.list_publicly else "nee", _date(r.created_at), _date(r.confirmed_at),
         _date(r.decided_at))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())
    counts = {name: sum(r.status == status for r in rows)
              for status, name in registry.STATUS_NAMES.items()}
    click.echo("\n" + ", ".join(f"{n} {name}" for name, n in counts.items() if n))


@adoptions.command()
@click.argument("kvk")
@click.option("--id", "registration_id", type=int,
              help="Welke aanmelding, als een KvK-nummer er meer dan één heeft.")
@with_appcontext
def approve(kvk: str, registration_id: int | None):
    """Keur de bevestigde aanmelding van een KvK-nummer goed; de contactpersoon krijgt een mail."""
    registration = _run(registry.approve, kvk, registration_id, logged="aanmelding goedgekeurd",
                        record=kvk, rebuild=True)
    listed = "op de openbare lijst" if registration.list_publicly else "niet op de lijst"
    click.echo(f"Goedgekeurd: {_printable(registration.company_name)} (KvK {registration.kvk}); "
               f"{listed}. Teller nu: {registry.adoption_count()['count']}. "
               "De bevestiging staat in de outbox.")


@adoptions.command()
@click.argument("kvk")
@click.option("--reason", required=True, help="De reden; de contactpersoon krijgt die per mail.")
@click.option("--id", "registration_id", type=int,
              help="Welke aanmelding, als een KvK-nummer er meer dan één heeft.")
@with_appcontext
def reject(kvk: str, reason: str, registration_id: int | None):
    """Wijs de bevestigde aanmelding van een KvK-nummer af; de contactpersoon krijgt de reden."""
    registration = _run(registry.reject, kvk, reason, registration_id,
                        logged="aanmelding afgewezen", record=kvk)
    click.echo(f"Afgewezen: {_printable(registration.company_name)} (KvK {registration.kvk}). "
               "De mail met de reden staat in de outbox.")


@adoptions.command()
@click.argument("kvk")
@with_appcontext
def unlist(kvk: str):
    """Haal een onderneming van de openbare lijst; zij telt nog wel mee."""
    registration = _run(registry.unlist, kvk, logged="van de openbare lijst gehaald", record=kvk,
                        rebuild=True)
    click.echo(f"Van de lijst gehaald: {_printable(registration.company_name)} "
               f"(KvK {registration.kvk}). "
               f"Telt nog mee; teller nu: {registry.adoption_count()['count']}.")


@adoptions.command("import", help=(
    "Neem ondernemingen uit een CSV-bestand op als goedgekeurd.\n\n"
    "Kolommen: company_name, kvk, sector, en naar keuze website, list_publicly (ja/nee), "
    "contact_name, contact_email. Scheidingsteken , of ;. Sectoren: " + ", ".join(SECTORS) + "."))
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_csv(file):
    """Import approved adopters from a CSV file (the help text lists the columns and sectors)."""
    # Of an import only that it happened (no names).
    results = _run(registry.import_adopters, file.read(), logged="deelnemers geïmporteerd",
                   record="CSV-bestand", rebuild=True)
    for line, _, message in results:
        click.echo(f"regel {line}: {message}")
    outcomes = [outcome for _, outcome, _ in results]
    click.echo(f"{outcomes.count('added')} toegevoegd, {outcomes.count('duplicate')} al bekend, "
               f"{outcomes.count('invalid')} met fouten. "
               f"Teller nu: {registry.adoption_count()['count']}.")
    if "invalid" in outcomes:
        raise StaffError("Niet alle regels zijn opgenomen. Verbeter de regels met fouten.")


@adoptions.command()
@with_appcontext
def purge():
    """Wis verlopen onbevestigde en oude afgewezen aanmeldingen (de worker doet dit elk uur)."""
    erased = _run(registry.purge_expired)
    click.echo(f"{erased} aanmelding(en) gewist.")


@adoptions.command("before-registry")
@click.argument("number", type=click.IntRange(min=0), required=False)
@with_appcontext
def before_registry(number: int | None):
    """Toon of zet het aantal ondernemingen dat meedeed vóór het online register."""
    if number is not None:
        _run(registry.set_adopters_before_registry, number,
             logged="aantal van vóór het register gewijzigd", record=str(number), rebuild=True)
    click.echo(f"Vóór het register: {registry.adopters_before_registry()}; "
               f"teller nu: {registry.adoption_count()['count']}")


class StaffError(click.ClickException):
    """A Dutch error for staff; the command exits with status 1."""

    def show(self, file=None):
        """Print the message as `Fout: ...` on standard error."""
        click.echo(f"Fout: {self.format_message()}", err=True)


def _run(action, *args, logged: str = "", record: str = "", rebuild: bool = False):
    """Run a registry action and commit it; show its Dutch message and exit non-zero if it can't.

    `logged` names the action in the staff log, as the staff pages name it, with `record` (as
    done on the command line); `rebuild` marks the site for the worker's rebuild, for a change
    to the public count or list. Both in the action's transaction, as the staff pages do.
    """
    from ..staff.audit import record as log_action
    from ..staff.rebuild import mark_changed

    try:
        result = action(*args)
    except registry.RegistryError as error:
        db.session.rollback()
        raise StaffError(str(error)) from None
    if logged:
        log_action(logged, record=record, actor="opdrachtregel")
    if rebuild:
        mark_changed()
    db.session.commit()
    return result


def _printable(text: str) -> str:
    """Text for the terminal: a control character (an escape sequence, a line break) shown as ?."""
    return "".join("?" if not char.isprintable() else char for char in text)


def _date(moment) -> str:
    """A date for the table, or a dash."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

