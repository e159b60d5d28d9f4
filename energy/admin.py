"""The energy admin: read-only history, no personal data.

Members, meters, readings, intervals, trades and bills are history the ledger attests to,
so the admin shows them read-only; changes go through the portal and the services (which
write the ledger). A member's name is encrypted and never shown here; members appear by
their public id. Tariffs and market settings are also set through the operator's pages.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from energy.models import (
    Bill,
    BillLine,
    GridSettlement,
    Interval,
    MarketSettings,
    Member,
    Meter,
    Order,
    Payment,
    Reading,
    Tariff,
    TariffPeriod,
    Trade,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: shown, never edited or deleted here; only the listed fields are displayed."""

    def get_fields(self, request, obj=None):
        return self.fields or self.list_display

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TariffPeriodInline(admin.TabularInline):
    model = TariffPeriod
    fields = ("name", "start_time", "end_time", "retail_price", "feed_in_price")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MarketSettings)
class MarketSettingsAdmin(ReadOnlyAdmin):
    list_display = (
        "microgrid",
        "mode",
        "local_price",
        "timezone",
        "clear_delay_minutes",
        "settle_delay_hours",
        "updated_at",
    )
    list_filter = ("mode",)


@admin.register(Tariff)
class TariffAdmin(ReadOnlyAdmin):
    list_display = ("microgrid", "name", "retail_price", "feed_in_price", "effective_from")
    list_filter = ("microgrid",)
    date_hierarchy = "effective_from"
    inlines = [TariffPeriodInline]


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "microgrid", "kind", "has_resident", "is_active", "joined_at")
    fields = ("public_id", "microgrid", "kind", "min_sell", "max_buy", "is_active", "joined_at")
    list_filter = ("microgrid", "kind", "is_active")
    search_fields = ("public_id",)
    list_select_related = ("microgrid",)

    @admin.display(boolean=True, description=_("linked to a resident"))
    def has_resident(self, obj):
        return obj.resident_id is not None


@admin.register(Meter)
class MeterAdmin(ReadOnlyAdmin):
    list_display = (
        "meter_id",
        "member",
        "token_prefix",
        "token_rotated_at",
        "last_reading_at",
        "is_active",
    )
    list_filter = ("is_active", "member__microgrid")
    search_fields = ("meter_id",)
    list_select_related = ("member",)


@admin.register(Reading)
class ReadingAdmin(ReadOnlyAdmin):
    list_display = ("meter", "interval_start", "import_wh", "export_wh", "source", "received_at")
    list_filter = ("source",)
    search_fields = ("meter__meter_id",)
    date_hierarchy = "interval_start"
    list_select_related = ("meter",)
    show_full_result_count = False  # millions of rows: skip the extra COUNT


class TradeInline(admin.TabularInline):
    model = Trade
    fields = ("run", "seller", "buyer", "wh", "price", "cents")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class GridInline(TradeInline):
    model = GridSettlement
    fields = ("run", "member", "direction", "wh", "price", "cents")
    readonly_fields = fields


@admin.register(Interval)
class IntervalAdmin(ReadOnlyAdmin):
    list_display = (
        "start",
        "microgrid",
        "status",
        "run",
        "matched_wh",
        "max_matchable_wh",
        "average_price",
        "traded_cents",
        "grid_import_wh",
        "grid_export_wh",
        "settled_at",
    )
    fields = (*list_display, "mode", "retail_price", "feed_in_price", "offered_wh", "bid_wh")
    list_filter = ("status", "mode", "microgrid")
    date_hierarchy = "start"
    list_select_related = ("microgrid",)
    inlines = [TradeInline, GridInline]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "interval",
        "member",
        "side",
        "source",
        "status",
        "wh",
        "limit_price",
        "book_wh",
        "traded_wh",
    )
    list_filter = ("side", "source", "status")
    list_select_related = ("interval", "member")


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("interval", "run", "seller", "buyer", "wh", "price", "cents")
    list_select_related = ("interval", "seller", "buyer")
    show_full_result_count = False


@admin.register(GridSettlement)
class GridSettlementAdmin(ReadOnlyAdmin):
    list_display = ("interval", "run", "member", "direction", "wh", "price", "cents")
    list_filter = ("direction",)
    list_select_related = ("interval", "member")
    show_full_result_count = False


class BillLineInline(admin.TabularInline):
    model = BillLine
    fields = ("kind", "wh", "cents")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bill)
class BillAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "month",
        "member",
        "consumption_wh",
        "net_cents",
        "saving_cents",
        "status",
        "due_date",
    )
    fields = (
        "public_id",
        "member",
        "month",
        "consumption_wh",
        "production_wh",
        "bought_local_wh",
        "bought_local_cents",
        "bought_grid_wh",
        "bought_grid_cents",
        "sold_local_wh",
        "sold_local_cents",
        "sold_grid_wh",
        "sold_grid_cents",
        "earnings_cents",
        "net_cents",
        "utility_only_cents",
        "saving_cents",
        "status",
        "issued_at",
        "due_date",
    )
    list_filter = ("status", "month", "member__microgrid")
    search_fields = ("public_id",)
    list_select_related = ("member",)
    inlines = [BillLineInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("bill", "amount_cents", "paid_on", "recorded_at", "recorded_by")
    list_select_related = ("bill", "recorded_by")
