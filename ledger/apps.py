from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = _("Ledger")

    def ready(self) -> None:
        from ledger import kinds

        kinds.register(
            "ledger.synthetic",
            kinds.Visibility.PUBLIC,
            "A synthetic entry for benchmarks and audit drills (ledger_load).",
        )
