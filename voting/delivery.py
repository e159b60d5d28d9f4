"""Delivering voting credentials: the address a letter's QR code opens, and email.

A credential must never reach a server log. The vote address carries it in the URL's
fragment (``/vote/<id>/#c=…``), which browsers do not send: the credential page's script
reads it, fills the field and removes it from the address bar. (The older ``?c=`` form
still works for letters already printed; the page drops it from the address at once.)

Email: each voter with an address gets one message with their credential. Messages are
sent after the credentials are issued and committed, one SMTP connection for the batch;
a message the mail server refuses voids that voter's new credential at once, so no live
credential exists that its voter never received, and the official issues a letter
instead. Credentials are never queued in the task broker or written anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from voting import credentials as codes
from voting import services
from voting.models import Election, Voter

log = logging.getLogger(__name__)


def vote_url(base: str, election: Election, credential: str = "") -> str:
    """The voter portal's address for the election; with a credential, in the fragment."""
    url = f"{base.rstrip('/')}/vote/{election.pk}/"
    return f"{url}#c={codes.normalize(credential)}" if credential else url


@dataclass
class EmailDelivery:
    sent: int = 0
    failed: list[Voter] = field(default_factory=list)  # credentials voided: send letters
    without_email: int = 0  # not issued a credential: send letters


def _message(election: Election, voter: Voter, credential: str, base: str):
    context = {
        "election": election,
        "name": voter.name,
        "credential": codes.format_credential(credential),
        "url": vote_url(base, election, credential),
        "city_name": getattr(settings, "CITYCHAIN_CITY_NAME", "") or _("City of citychain"),
    }
    subject = " ".join(render_to_string("voting/email/credential_subject.txt", context).split())
    body = render_to_string("voting/email/credential_body.txt", context)
    return mail.EmailMessage(subject, body, to=[voter.email])


def email_credentials(
    election: Election,
    *,
    voters: Iterable[Voter] | None = None,
    base_url: str,
    acting_user=None,
    progress: Callable[[int, int], None] | None = None,
) -> EmailDelivery:
    """Issue fresh credentials to the voters in scope who have an email address and have
    not voted, and email each their own. Voters without an address are left as they were.
    Must not run inside a transaction: the credentials are committed before any is sent."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("email_credentials commits before sending; call it outside atomic")
    scope = Voter.objects.filter(election=election, has_voted=False)
    if voters is not None:
        scope = scope.filter(pk__in=[v.pk for v in voters])
    in_scope = list(scope.order_by("pk"))
    reachable = [v for v in in_scope if (v.email or "").strip()]
    result = EmailDelivery(without_email=len(in_scope) - len(reachable))
    if not reachable:
        return result
    issued = services.credentials_issue(election, voters=reachable, acting_user=acting_user)
    with mail.get_connection(fail_silently=False) as connection:
        for position, (voter, credential) in enumerate(issued, start=1):
            try:
                connection.send_messages([_message(election, voter, credential, base_url)])
                result.sent += 1
            except Exception:  # any refusal: void that credential, go on with the rest
                log.warning("a credential email was refused by the mail server; voided")
                result.failed.append(voter)
            if progress:
                progress(position, len(issued))
    if result.failed:
        services.credentials_void(election, voters=result.failed, acting_user=acting_user)
    return result
