"""Issue fresh voting credentials to the roll, for a mail merge.

    manage.py issue_credentials ELECTION_ID --output FILE.csv [--base-url URL]
    manage.py issue_credentials ELECTION_ID --email [--base-url URL]

Every voter on the roll who has not voted yet gets a new one-time credential, which voids
any credential they held. The CSV (columns voter_id, name, email, credential, url) is the
only copy of the new credentials: citychain keeps their hashes. It is created readable by its
owner only (mode 0600) and appears whole or not at all; on any error nothing is issued.

With --email, voters on the roll who have an email address get their new credential by
email instead (voting/delivery.py), and no file is written; voters without an address
keep what they had.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from voting import credentials as codes
from voting import delivery, services
from voting.models import Election, Voter

COLUMNS = ("voter_id", "name", "email", "credential", "url")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
PROGRESS_EVERY = 1000


def default_base_url() -> str:
    return (getattr(settings, "CITYCHAIN_BASE_URL", "") or DEFAULT_BASE_URL).rstrip("/")


def vote_url(base: str, election: Election, credential: str) -> str:
    """The voter portal's address that opens this election's ballot with the credential
    (in the URL's fragment, which never reaches a server log)."""
    return delivery.vote_url(base, election, credential)


def open_private_file(path: Path) -> tuple[int, str]:
    """A temporary file (mode 0600) beside ``path``, to be renamed onto it when complete."""
    if path.is_dir():
        raise CommandError(f"{path} is a folder; give the name of the CSV file to write.")
    try:
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None


def write_credentials(
    out: TextIO,
    election: Election,
    issued: Iterable[tuple[Voter, str]],
    *,
    base: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the mail-merge CSV to ``out`` (opened with newline=""), flushed to disk."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    written = 0
    for voter, credential in issued:
        writer.writerow(
            [
                voter.reference,
                voter.name,
                voter.email or "",
                codes.format_credential(credential),
                vote_url(base, election, credential),
            ]
        )
        written += 1
        if progress and written % PROGRESS_EVERY == 0:
            progress(written)
    out.flush()
    os.fsync(out.fileno())
    return written


class Command(BaseCommand):
    help = (
        "Issue a fresh one-time credential to every voter on an election's roll who has not "
        "voted yet (their older credentials stop working) and write them to a CSV for a mail "
        "merge: voter_id, name, email, credential, url. The file holds live credentials."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("election_id", help="The election's ID (a number).")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--output", help="The CSV file to write (created with mode 0600).")
        target.add_argument(
            "--email",
            action="store_true",
            help="Email each voter who has an email address their new credential instead.",
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help=f"The site's address for the url column (default {DEFAULT_BASE_URL}, or "
            "the CITYCHAIN_BASE_URL setting).",
        )

    def handle(self, *args, election_id, output=None, email=False, base_url=None, **options):
        election = self._election(election_id)
        base = (base_url or default_base_url()).rstrip("/")
        if email:
            return self._email(election, base)
        path = Path(output).expanduser()
        pending = Voter.objects.filter(election=election, has_voted=False).count()
        if pending == 0:
            raise CommandError(
                f"Nobody on the roll of election {election.pk} needs a credential: the roll "
                "is empty or everyone on it has voted. No file was written."
            )
        handle, temporary = open_private_file(path)
        self.stdout.write(
            f"Issuing credentials to {pending:,} voters who have not voted in election "
            f"{election.pk} ({election.title})…"
        )
        try:
            with (
                os.fdopen(handle, "w", newline="", encoding="utf-8") as out,
                transaction.atomic(),
            ):
                try:
                    issued = services.credentials_issue(election)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from None
                written = write_credentials(
                    out, election, issued, base=base, progress=self._progress(len(issued))
                )
                os.replace(temporary, path)
        except BaseException:
            # Nothing is issued (the transaction rolled back) and no partial file is left.
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        self.stdout.write(self.style.SUCCESS(f"Wrote {written:,} credentials to {path}."))
        self.stderr.write(
            self.style.WARNING(
                f"WARNING: {path} holds {written:,} live voting credentials: anyone who reads "
                "it can vote in these voters' place. Keep it private, send the letters or "
                "emails, then delete it. Their earlier credentials no longer work."
            )
        )

    def _email(self, election: Election, base: str) -> None:
        pending = Voter.objects.filter(election=election, has_voted=False).count()
        if pending == 0:
            raise CommandError(
                f"Nobody on the roll of election {election.pk} needs a credential: the roll "
                "is empty or everyone on it has voted. Nothing was sent."
            )
        self.stdout.write(
            f"Emailing new credentials to the voters who have not voted in election "
            f"{election.pk} ({election.title}) and have an email address…"
        )

        def progress(done: int, total: int) -> None:
            if done % 100 == 0 or done == total:
                self.stdout.write(f"  {done:,} of {total:,} sent")

        try:
            result = delivery.email_credentials(election, base_url=base, progress=progress)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Emailed {result.sent:,} credentials."))
        if result.failed:
            self.stderr.write(
                self.style.WARNING(
                    f"The mail server refused {len(result.failed):,} messages; those "
                    "credentials were voided. Issue letters to voters with no credential."
                )
            )
        if result.without_email:
            self.stdout.write(
                f"{result.without_email:,} voters have no email address on the roll and were "
                "not sent anything."
            )

    def _progress(self, total: int) -> Callable[[int], None]:
        return lambda written: self.stdout.write(f"  {written:,} of {total:,} written")

    @staticmethod
    def _election(election_id: str) -> Election:
        try:
            pk = int(election_id)
        except (TypeError, ValueError):
            raise CommandError(f"ELECTION_ID {election_id!r} is not a number.") from None
        election = Election.objects.filter(pk=pk).first()
        if election is None:
            raise CommandError(f"No election with ID {pk}.")
        if election.status in (Election.Status.CLOSED, Election.Status.CERTIFIED):
            raise CommandError(
                f"Election {pk} ({election.title}) is {election.status}: voting is over, so "
                "no credentials can be issued."
            )
        return election
