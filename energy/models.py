"""The community microgrid's members, meters, readings, market intervals, trades and bills.

Units, as in :mod:`energy.market`: energy in integer watt-hours (Wh), money in integer
cents, prices in integer millicents per kilowatt-hour (m¢/kWh; 12.5 ¢/kWh is 12_500).

An interval's life: ``open`` while its quarter-hour runs and meters may still report;
``closed`` once it is due for clearing (or again when a late reading arrives after it was
cleared); ``cleared`` when its trades and grid fallbacks are written (``run`` counts the
clearings); ``settled_at`` freezes it: no reading for it is accepted any more and bills
use it. Every write goes through ``energy.services``; nothing here has logic in ``save()``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from citychain.fields import EncryptedTextField

QUARTER = timedelta(minutes=15)


class MarketMode(models.TextChoices):
    PRO_RATA = "pro_rata", _("Pro-rata sharing of metered surplus")
    DOUBLE_AUCTION = "double_auction", _("Double auction on standing limit prices")


class MarketSettings(models.Model):
    """How one microgrid's market clears; chosen by its operator."""

    microgrid = models.OneToOneField(
        "identity.Organization",
        verbose_name=_("microgrid"),
        on_delete=models.PROTECT,
        related_name="energy_market",
    )
    mode = models.CharField(
        _("clearing mode"), max_length=20, choices=MarketMode.choices, default=MarketMode.PRO_RATA
    )
    # Pro-rata only: the one local price (m¢/kWh); empty means halfway between feed-in and retail.
    local_price = models.PositiveIntegerField(_("local price (m¢/kWh)"), null=True, blank=True)
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default=settings.TIME_ZONE,
        help_text=_("Bills, days and time-of-use periods follow this time zone."),
    )
    clear_delay_minutes = models.PositiveIntegerField(
        _("clearing delay (minutes)"),
        default=5,
        help_text=_("How long after an interval ends it is cleared, so meters can report."),
    )
    settle_delay_hours = models.PositiveIntegerField(
        _("settlement delay (hours)"),
        default=24,
        help_text=_("Late readings are accepted, and the interval re-cleared, until then."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("market settings")
        verbose_name_plural = _("market settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["pro_rata", "double_auction"]),
                name="energy_marketsettings_mode_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"market settings of microgrid #{self.microgrid_id}"


class Tariff(models.Model):
    """The utility's prices from ``effective_from`` on: retail (import) and feed-in (export)."""

    microgrid = models.ForeignKey(
        "identity.Organization",
        verbose_name=_("microgrid"),
        on_delete=models.PROTECT,
        related_name="energy_tariffs",
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    retail_price = models.PositiveIntegerField(_("retail price (m¢/kWh)"))
    feed_in_price = models.PositiveIntegerField(_("feed-in price (m¢/kWh)"))
    effective_from = models.DateTimeField(_("effective from"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["microgrid", "-effective_from"]
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        constraints = [
            models.UniqueConstraint(
                fields=["microgrid", "effective_from"], name="energy_tariff_effective_unique"
            ),
            models.CheckConstraint(
                condition=Q(feed_in_price__lte=models.F("retail_price")),
                name="energy_tariff_feed_in_le_retail",
            ),
        ]

    def __str__(self) -> str:
        return f"tariff #{self.pk} from {self.effective_from:%Y-%m-%d %H:%M}"


class TariffPeriod(models.Model):
    """A time-of-use period: other prices every day from ``start_time`` to ``end_time`` (local)."""

    tariff = models.ForeignKey(
        Tariff, verbose_name=_("tariff"), on_delete=models.CASCADE, related_name="periods"
    )
    name = models.CharField(_("name"), max_length=50, blank=True)
    start_time = models.TimeField(_("starts (local time)"))
    end_time = models.TimeField(_("ends (local time)"))
    retail_price = models.PositiveIntegerField(_("retail price (m¢/kWh)"))
    feed_in_price = models.PositiveIntegerField(_("feed-in price (m¢/kWh)"))

    class Meta:
        ordering = ["tariff", "start_time"]
        verbose_name = _("time-of-use period")
        verbose_name_plural = _("time-of-use periods")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")),
                name="energy_tariffperiod_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(feed_in_price__lte=models.F("retail_price")),
                name="energy_tariffperiod_feed_in_le_retail",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start_time:%H:%M}-{self.end_time:%H:%M}"


class Member(models.Model):
    """A household or small business on the microgrid."""

    class Kind(models.TextChoices):
        HOUSEHOLD = "household", _("Household")
        BUSINESS = "business", _("Business")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    microgrid = models.ForeignKey(
        "identity.Organization",
        verbose_name=_("microgrid"),
        on_delete=models.PROTECT,
        related_name="energy_members",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # A household's or business's name is personal data: encrypted, never listed or logged.
    name = EncryptedTextField(_("name"))
    resident = models.ForeignKey(
        "identity.Resident",
        verbose_name=_("resident"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="energy_members",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sign-in account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="energy_member",
    )
    # Standing price preferences (m¢/kWh); empty means the grid's price (feed-in / retail).
    min_sell = models.PositiveIntegerField(
        _("lowest selling price (m¢/kWh)"), null=True, blank=True
    )
    max_buy = models.PositiveIntegerField(_("highest buying price (m¢/kWh)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        ordering = ["joined_at", "id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["household", "business"]), name="energy_member_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(min_sell__isnull=True)
                | Q(max_buy__isnull=True)
                | Q(min_sell__lte=models.F("max_buy")),
                name="energy_member_min_sell_le_max_buy",
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.public_id}"

    @property
    def market_id(self) -> str:
        """The member's id in an order book (energy.market): stable, opaque, unique."""
        return str(self.public_id)


class Meter(models.Model):
    """A smart meter of a member; it reports with its own token (only its hash is stored)."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="meters"
    )
    meter_id = models.SlugField(
        _("meter id"),
        max_length=64,
        unique=True,
        help_text=_("The meter's serial as printed on it; used in the ingestion URL."),
    )
    token_hash = models.CharField(_("token digest"), max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(_("token starts with"), max_length=8, editable=False)
    token_rotated_at = models.DateTimeField(_("token issued"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_reading_at = models.DateTimeField(_("last reading received"), null=True, blank=True)

    class Meta:
        ordering = ["meter_id"]
        verbose_name = _("meter")
        verbose_name_plural = _("meters")

    def __str__(self) -> str:
        return self.meter_id


class Reading(models.Model):
    """One quarter-hour of a meter: energy imported (consumed) and exported (produced)."""

    class Source(models.TextChoices):
        METER = "meter", _("Smart meter")
        GREEN_BUTTON = "green_button", _("Green Button import")

    id = models.BigAutoField(primary_key=True)
    meter = models.ForeignKey(
        Meter, verbose_name=_("meter"), on_delete=models.PROTECT, related_name="readings"
    )
    interval_start = models.DateTimeField(_("interval start"))
    import_wh = models.PositiveIntegerField(_("import (Wh)"))
    export_wh = models.PositiveIntegerField(_("export (Wh)"))
    source = models.CharField(
        _("source"), max_length=16, choices=Source.choices, default=Source.METER
    )
    received_at = models.DateTimeField(_("received"))

    class Meta:
        ordering = ["meter", "interval_start"]
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "interval_start"], name="energy_reading_meter_interval_unique"
            ),
        ]
        indexes = [models.Index(fields=["interval_start"], name="energy_reading_start")]

    def __str__(self) -> str:
        return f"{self.meter_id} @ {self.interval_start:%Y-%m-%d %H:%M}"


class Interval(models.Model):
    """One 15-minute market interval of one microgrid, and the totals of its clearing."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed, waiting to be cleared")
        CLEARED = "cleared", _("Cleared")

    microgrid = models.ForeignKey(
        "identity.Organization",
        verbose_name=_("microgrid"),
        on_delete=models.PROTECT,
        related_name="energy_intervals",
    )
    start = models.DateTimeField(_("start"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    run = models.PositiveIntegerField(_("clearings run"), default=0)
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    # What the last clearing used and found (empty until cleared).
    mode = models.CharField(
        _("clearing mode"), max_length=20, choices=MarketMode.choices, blank=True
    )
    retail_price = models.PositiveIntegerField(_("retail price (m¢/kWh)"), null=True, blank=True)
    feed_in_price = models.PositiveIntegerField(_("feed-in price (m¢/kWh)"), null=True, blank=True)
    offered_wh = models.BigIntegerField(_("offered (Wh)"), default=0)
    bid_wh = models.BigIntegerField(_("bid (Wh)"), default=0)
    matched_wh = models.BigIntegerField(_("matched (Wh)"), default=0)
    max_matchable_wh = models.BigIntegerField(_("most matchable (Wh)"), default=0)
    traded_cents = models.BigIntegerField(_("traded (cents)"), default=0)
    grid_import_wh = models.BigIntegerField(_("bought from the grid (Wh)"), default=0)
    grid_import_cents = models.BigIntegerField(_("paid to the grid (cents)"), default=0)
    grid_export_wh = models.BigIntegerField(_("sold to the grid (Wh)"), default=0)
    grid_export_cents = models.BigIntegerField(_("paid by the grid (cents)"), default=0)
    # Volume-weighted mean of the trades' prices, rounded down; empty when nothing traded.
    average_price = models.PositiveIntegerField(
        _("average local price (m¢/kWh)"), null=True, blank=True
    )

    class Meta:
        ordering = ["microgrid", "start"]
        verbose_name = _("market interval")
        verbose_name_plural = _("market intervals")
        constraints = [
            models.UniqueConstraint(
                fields=["microgrid", "start"], name="energy_interval_microgrid_start_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "closed", "cleared"]),
                name="energy_interval_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="cleared") | Q(cleared_at__isnull=False),
                name="energy_interval_cleared_at_set",
            ),
            models.CheckConstraint(
                condition=Q(settled_at__isnull=True) | Q(status="cleared"),
                name="energy_interval_settled_only_cleared",
            ),
        ]
        indexes = [models.Index(fields=["status", "start"], name="energy_interval_due")]

    def __str__(self) -> str:
        return f"interval {self.start:%Y-%m-%d %H:%M} UTC"

    @property
    def end(self):
        return self.start + QUARTER

    @property
    def is_settled(self) -> bool:
        return self.settled_at is not None


class Side(models.TextChoices):
    BUY = "buy", _("Buy")
    SELL = "sell", _("Sell")


class Order(models.Model):
    """A bid or an offer for one interval: placed by hand, or made from metered net energy.

    A manual order sets the member's limit price and the most energy it trades in the
    interval (double auction only); it is placed and cancelled only before the interval
    ends. When the interval clears, the book it used is stored: ``book_wh`` is what the
    order put in the book (capped by the metered net energy) and ``traded_wh`` what traded.
    """

    class Source(models.TextChoices):
        AUTO = "auto", _("From metered energy")
        MANUAL = "manual", _("Placed by hand")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    interval = models.ForeignKey(
        Interval, verbose_name=_("interval"), on_delete=models.CASCADE, related_name="orders"
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="orders"
    )
    side = models.CharField(_("side"), max_length=4, choices=Side.choices)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    wh = models.PositiveIntegerField(_("energy (Wh)"))
    limit_price = models.PositiveIntegerField(_("limit price (m¢/kWh)"))
    book_wh = models.PositiveIntegerField(_("in the book (Wh)"), null=True, blank=True)
    traded_wh = models.PositiveIntegerField(_("traded (Wh)"), null=True, blank=True)
    placed_at = models.DateTimeField(_("placed"))
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        ordering = ["interval", "side", "limit_price", "id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["interval", "member", "source"],
                condition=Q(status="active"),
                name="energy_order_one_active_per_source",
            ),
            models.CheckConstraint(condition=Q(wh__gte=1), name="energy_order_wh_positive"),
            models.CheckConstraint(
                condition=Q(side__in=["buy", "sell"]), name="energy_order_side_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.wh} Wh @ {self.limit_price}"


class Trade(models.Model):
    """Energy one member sold to another in an interval; the buyer pays ``cents`` to the seller."""

    id = models.BigAutoField(primary_key=True)
    interval = models.ForeignKey(
        Interval, verbose_name=_("interval"), on_delete=models.CASCADE, related_name="trades"
    )
    run = models.PositiveIntegerField(_("clearing run"))
    seller = models.ForeignKey(
        Member, verbose_name=_("seller"), on_delete=models.PROTECT, related_name="sales"
    )
    buyer = models.ForeignKey(
        Member, verbose_name=_("buyer"), on_delete=models.PROTECT, related_name="purchases"
    )
    wh = models.PositiveIntegerField(_("energy (Wh)"))
    price = models.PositiveIntegerField(_("price (m¢/kWh)"))
    cents = models.PositiveIntegerField(_("amount (cents)"))

    class Meta:
        ordering = ["interval", "id"]
        verbose_name = _("trade")
        verbose_name_plural = _("trades")
        constraints = [
            models.UniqueConstraint(
                fields=["interval", "seller", "buyer"], name="energy_trade_pair_unique"
            ),
            models.CheckConstraint(condition=Q(wh__gte=1), name="energy_trade_wh_positive"),
        ]

    def __str__(self) -> str:
        return f"trade of {self.wh} Wh"


class GridSettlement(models.Model):
    """Energy a member bought from or sold to the utility grid in an interval."""

    class Direction(models.TextChoices):
        IMPORT = "import", _("Bought from the grid")
        EXPORT = "export", _("Sold to the grid")

    id = models.BigAutoField(primary_key=True)
    interval = models.ForeignKey(
        Interval,
        verbose_name=_("interval"),
        on_delete=models.CASCADE,
        related_name="grid_settlements",
    )
    run = models.PositiveIntegerField(_("clearing run"))
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="grid_settlements"
    )
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices)
    wh = models.PositiveIntegerField(_("energy (Wh)"))
    price = models.PositiveIntegerField(_("price (m¢/kWh)"))
    cents = models.PositiveIntegerField(_("amount (cents)"))

    class Meta:
        ordering = ["interval", "direction", "id"]
        verbose_name = _("grid settlement")
        verbose_name_plural = _("grid settlements")
        constraints = [
            models.UniqueConstraint(
                fields=["interval", "member"], name="energy_gridsettlement_member_unique"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["import", "export"]),
                name="energy_gridsettlement_direction_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"grid {self.direction} of {self.wh} Wh"


class Bill(models.Model):
    """A member's monthly bill: what it bought and sold, locally and from the grid.

    ``net_cents`` is what the member owes (negative: what it is owed); ``utility_only_cents``
    is what the same metered energy would have cost on the utility's tariff alone (imports
    at retail, exports at feed-in, interval by interval), and ``saving_cents`` the difference.
    """

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="bills"
    )
    month = models.DateField(_("month"), help_text=_("The first day of the billed month."))
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    consumption_wh = models.BigIntegerField(_("consumption (Wh)"))
    production_wh = models.BigIntegerField(_("production (Wh)"))
    bought_local_wh = models.BigIntegerField(_("bought from neighbours (Wh)"))
    bought_local_cents = models.BigIntegerField(_("paid to neighbours (cents)"))
    bought_grid_wh = models.BigIntegerField(_("bought from the grid (Wh)"))
    bought_grid_cents = models.BigIntegerField(_("paid to the grid (cents)"))
    sold_local_wh = models.BigIntegerField(_("sold to neighbours (Wh)"))
    sold_local_cents = models.BigIntegerField(_("paid by neighbours (cents)"))
    sold_grid_wh = models.BigIntegerField(_("sold to the grid (Wh)"))
    sold_grid_cents = models.BigIntegerField(_("paid by the grid (cents)"))
    earnings_cents = models.BigIntegerField(_("earnings (cents)"))
    net_cents = models.BigIntegerField(_("net amount (cents)"))
    utility_only_cents = models.BigIntegerField(_("cost on the utility tariff alone (cents)"))
    saving_cents = models.BigIntegerField(_("saving (cents)"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.ISSUED
    )
    issued_at = models.DateTimeField(_("issued"))
    due_date = models.DateField(_("due date"))

    class Meta:
        ordering = ["-month", "member"]
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        constraints = [
            models.UniqueConstraint(fields=["member", "month"], name="energy_bill_member_month"),
            models.CheckConstraint(
                condition=Q(status__in=["issued", "paid"]), name="energy_bill_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    net_cents=models.F("bought_local_cents")
                    + models.F("bought_grid_cents")
                    - models.F("earnings_cents")
                ),
                name="energy_bill_net_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"bill {self.month:%Y-%m} of member #{self.member_id}"


class BillLine(models.Model):
    class Kind(models.TextChoices):
        LOCAL_PURCHASE = "local_purchase", _("Bought from neighbours")
        GRID_PURCHASE = "grid_purchase", _("Bought from the grid")
        LOCAL_SALE = "local_sale", _("Sold to neighbours")
        GRID_SALE = "grid_sale", _("Sold to the grid")

    bill = models.ForeignKey(
        Bill, verbose_name=_("bill"), on_delete=models.CASCADE, related_name="lines"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    wh = models.BigIntegerField(_("energy (Wh)"))
    # Positive: the member pays; negative: the member is paid.
    cents = models.BigIntegerField(_("amount (cents)"))
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        ordering = ["bill", "position"]
        verbose_name = _("bill line")
        verbose_name_plural = _("bill lines")
        constraints = [
            models.UniqueConstraint(fields=["bill", "kind"], name="energy_billline_kind_unique"),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class Payment(models.Model):
    """A bill's payment, as the operator recorded it."""

    bill = models.OneToOneField(
        Bill, verbose_name=_("bill"), on_delete=models.PROTECT, related_name="payment"
    )
    amount_cents = models.BigIntegerField(_("amount (cents)"))
    paid_on = models.DateField(_("paid on"))
    recorded_at = models.DateTimeField(_("recorded"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    credit_reference = models.CharField(_("credit payment reference"), max_length=80, blank=True)

    class Meta:
        ordering = ["-paid_on"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"payment of bill #{self.bill_id}"
