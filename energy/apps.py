from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The ledger kinds energy records. Market outcomes are public (anyone can check that an
# interval's trades add up); what concerns one member's account is private.
LEDGER_KINDS = (
    ("energy.trade", "public", "A cleared trade: seller and buyer pseudonyms, Wh, price, cents"),
    ("energy.grid_settlement", "public", "Energy a member bought from or sold to the grid"),
    ("energy.interval_cleared", "public", "An interval was cleared (run number and totals)"),
    ("energy.interval_settled", "public", "An interval was settled: its last run stands"),
    ("energy.tariff_set", "public", "The utility's retail and feed-in prices from a time on"),
    ("energy.market_settings_set", "public", "The operator chose the market's clearing mode"),
    ("energy.member_joined", "private", "A household or business joined a microgrid"),
    ("energy.preferences_set", "private", "A member set standing price limits"),
    ("energy.meter_registered", "private", "A meter was registered for a member"),
    ("energy.meter_token_rotated", "private", "A meter's ingestion token was replaced"),
    ("energy.readings_received", "private", "A batch of meter readings was stored (digest)"),
    ("energy.order_placed", "private", "A member placed an order by hand"),
    ("energy.order_cancelled", "private", "A member cancelled an order placed by hand"),
    ("energy.bill_issued", "private", "A member's monthly bill"),
    ("energy.bill_paid", "private", "A member's monthly bill was paid"),
)


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = _("Energy")

    def ready(self) -> None:
        from ledger import kinds

        for name, visibility, description in LEDGER_KINDS:
            kinds.register(name, visibility, description)
