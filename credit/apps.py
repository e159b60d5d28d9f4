from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# (kind, visibility, description). Payments, disputes and circle events are private (only
# their leaf hash is published): they describe one person's finances, even pseudonymously.
# An issued report's hash is public, so anyone shown the report can check it.
LEDGER_KINDS = (
    ("credit.payment_attested", "private", "A reporter attested a payment record (digest)"),
    ("credit.payment_updated", "private", "A payment record was paid or corrected (digest)"),
    ("credit.dispute_opened", "private", "A resident disputed a payment record"),
    ("credit.dispute_resolved", "private", "A dispute was resolved: corrected, upheld, deleted"),
    ("credit.circle_event", "private", "A lending circle started, or paid out a round"),
    ("credit.bureau_consent", "private", "A resident opted in to or out of bureau reporting"),
    ("credit.report_issued", "public", "A credit report was issued: its SHA-256"),
)


class CreditConfig(AppConfig):
    name = "credit"
    verbose_name = _("Credit")

    def ready(self) -> None:
        # Declared here, not in services, so every process (the explorer, a verifier)
        # knows these kinds and their visibility even if it never imports the services.
        from django.utils.translation import gettext, ngettext

        from credit import score
        from ledger import kinds

        # The scorecard's sentences (key factors, improvements) in the resident's language.
        score.set_translators(gettext, ngettext)
        for name, visibility, description in LEDGER_KINDS:
            kinds.register(name, visibility, description)
