"""The energy portal, at /energy/: a member's dashboard, bills, Green Button upload, price
preferences and manual orders; the operator's dashboard; an interval's order book.

Views validate with energy.forms, call energy.services and render figures from
energy.selectors. Members see only their own data; in an interval's book other members
appear as "Seller 1", "Buyer 2"..., numbered afresh in each interval so they cannot be
followed from one interval to the next. Operators see members' short numbers (the start of
their public id). Nobody's name is in a URL: bills and members use their public UUID.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from citychain import roles
from citychain.charts import Series, bar_chart, line_chart
from energy import forms, selectors, services
from energy.models import QUARTER, Bill, Interval, MarketMode, Member, Order, Side
from identity.forms import add_service_errors
from identity.models import Organization

INTERVALS_PAGE_SIZE = 48
PRICE_CHART_INTERVALS = 96  # one day of quarter hours
ORDER_AHEAD = 8  # intervals a member may place a manual order for: this one and the next 7
MAX_ROW_ERRORS = 10


# --- formatting: integers in, what people read out ---------------------------------------


def money(cents: int | None) -> str:
    if cents is None:
        return "—"
    amount = formats.number_format(Decimal(abs(cents)) / 100, 2, force_grouping=True)
    return f"\N{MINUS SIGN}${amount}" if cents < 0 else f"${amount}"


def kwh(wh: int | None, places: int = 1) -> str:
    if wh is None:
        return "—"
    return formats.number_format(Decimal(wh) / 1000, places, force_grouping=True)


def price(millicents: int | None) -> str:
    """m¢/kWh as ¢/kWh with two decimals."""
    if millicents is None:
        return "—"
    return formats.number_format(Decimal(millicents) / 1000, 2)


def percent(share: float | None) -> str:
    return "—" if share is None else formats.number_format(round(share * 100, 1), 1)


def _kwh_value(wh: int) -> float:
    return round(wh / 1000, 1)


def _percent_value(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def _dollars(cents: int) -> float:
    return round(cents / 100, 2)


def _day_label(day: date) -> str:
    return formats.date_format(day, "M j")


# --- who may see what ---------------------------------------------------------------------


def member_required(view):
    """A signed-in microgrid member; the view gets its Member as `member`."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not roles.has_role(request.user, roles.ENERGY_MEMBER):
            raise PermissionDenied(_("Only microgrid members can use these pages."))
        member = selectors.member_for_user(request.user)
        if member is None:
            raise PermissionDenied(
                _("Your account is not linked to a microgrid membership yet. Ask your operator.")
            )
        return view(request, *args, member=member, **kwargs)

    return wrapper


def _operator_microgrid(request: HttpRequest) -> Organization | None:
    microgrid = selectors.microgrid_for_user(request.user)
    if microgrid is None and roles.has_role(request.user, roles.CITY_ADMIN):
        # City admins belong to no microgrid: they pick one (the first by default).
        grids = Organization.objects.filter(kind=Organization.Kind.MICROGRID).order_by("name")
        chosen = request.GET.get("microgrid") or request.POST.get("microgrid")
        if chosen and chosen.isdigit():
            microgrid = grids.filter(pk=int(chosen)).first()
        microgrid = microgrid or grids.first()
    return microgrid


def _microgrid_choices(request: HttpRequest):
    """The microgrids a city admin may switch between (None for an operator: just theirs)."""
    if selectors.microgrid_for_user(request.user) is not None:
        return None
    return Organization.objects.filter(kind=Organization.Kind.MICROGRID).order_by("name")


def operator_required(view):
    """A grid operator (or a city admin); the view gets the operator's microgrid."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not roles.has_role(request.user, roles.GRID_OPERATOR, roles.CITY_ADMIN):
            raise PermissionDenied(_("Only the microgrid's operator can use this page."))
        microgrid = _operator_microgrid(request)
        if microgrid is None:
            raise PermissionDenied(_("Your account is not linked to a microgrid."))
        return view(request, *args, microgrid=microgrid, **kwargs)

    return wrapper


def _is_operator_of(user, microgrid_id: int) -> bool:
    if not roles.has_role(user, roles.GRID_OPERATOR, roles.CITY_ADMIN):
        return False
    if roles.has_role(user, roles.CITY_ADMIN):
        return True
    own = selectors.microgrid_for_user(user)
    return own is not None and own.pk == microgrid_id


# --- time: the microgrid's months and days ------------------------------------------------


def _zone(microgrid: Organization) -> ZoneInfo:
    return ZoneInfo(selectors.market_settings_for(microgrid).timezone)


def _month(request: HttpRequest, zone: ZoneInfo) -> date:
    """The month asked for as ?month=YYYY-MM, else this month (local)."""
    today = timezone.now().astimezone(zone).date()
    raw = request.GET.get("month", "")
    try:
        year, month = (int(part) for part in raw.split("-"))
        if 2000 <= year <= today.year + 1 and 1 <= month <= 12:
            return date(year, month, 1)
    except ValueError:
        pass
    return today.replace(day=1)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _month_range(first: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(first.year, first.month, 1, tzinfo=zone)
    nxt = _next_month(first)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
    return start, end


def _month_nav(first: date) -> dict:
    previous = (first - timedelta(days=1)).replace(day=1)
    nxt = _next_month(first)
    return {
        "label": formats.date_format(first, "YEAR_MONTH_FORMAT"),
        "this": first.strftime("%Y-%m"),
        "current": first == timezone.localdate().replace(day=1),
        "previous": previous.strftime("%Y-%m"),
        "previous_label": formats.date_format(previous, "YEAR_MONTH_FORMAT"),
        "next": nxt.strftime("%Y-%m") if nxt <= timezone.now().date().replace(day=1) else None,
        "next_label": formats.date_format(nxt, "YEAR_MONTH_FORMAT"),
    }


def _chart_days(days, zone: ZoneInfo):
    """The month's days a chart shows: from the first with data to the last (never beyond
    today); days in between without data stay, as zeroes."""
    today = timezone.now().astimezone(zone).date()
    shown = [d for d in days if d.day <= today]
    with_data = [
        i
        for i, d in enumerate(shown)
        if any((d.consumption_wh, d.production_wh, d.bid_wh, d.offered_wh))
    ]
    return shown[with_data[0] : with_data[-1] + 1] if with_data else []


# --- the member's dashboard ---------------------------------------------------------------


def _row(label, wh: int, cents: int | None = None) -> dict:
    return {"label": label, "value": kwh(wh), "money": None if cents is None else money(cents)}


def _member_summary(t) -> list[dict]:
    return [
        _row(_("Consumption (drawn from the grid connection)"), t.consumption_wh),
        _row(_("Production (sent out to the grid connection)"), t.production_wh),
        _row(_("Bought from neighbours"), t.bought_local_wh, t.bought_local_cents),
        _row(_("Bought from the grid"), t.bought_grid_wh, t.bought_grid_cents),
        _row(_("Sold to neighbours"), t.sold_local_wh, t.sold_local_cents),
        _row(_("Sold to the grid"), t.sold_grid_wh, t.sold_grid_cents),
    ]


def _member_charts(days) -> list:
    labels = [_day_label(d.day) for d in days]
    return [
        line_chart(
            labels,
            [
                Series(_("Consumption"), [_kwh_value(d.consumption_wh) for d in days]),
                Series(_("Production"), [_kwh_value(d.production_wh) for d in days]),
            ],
            title=_("Your production and consumption per day"),
            unit=_("kWh"),
        ),
        bar_chart(
            labels,
            [
                Series(_("Bought from neighbours"), [_kwh_value(d.bought_local_wh) for d in days]),
                Series(_("Sold to neighbours"), [_kwh_value(d.sold_local_wh) for d in days]),
                Series(_("Bought from the grid"), [_kwh_value(d.bought_grid_wh) for d in days]),
                Series(_("Sold to the grid"), [_kwh_value(d.sold_grid_wh) for d in days]),
            ],
            title=_("Your trades per day"),
            unit=_("kWh"),
        ),
        bar_chart(
            labels,
            [
                Series(
                    _("Saved by buying from neighbours"), [_dollars(d.saved_cents) for d in days]
                ),
                Series(_("Earned by selling"), [_dollars(d.earned_cents) for d in days]),
            ],
            title=_("Money saved and earned per day"),
            unit="$",
        ),
    ]


@member_required
def member_home(request: HttpRequest, member: Member) -> HttpResponse:
    zone = _zone(member.microgrid)
    first = _month(request, zone)
    start, end = _month_range(first, zone)
    days = selectors.member_days(member, start=start, end=end, zone=zone)
    total = selectors.portal_total(days)
    settings_ = selectors.market_settings_for(member.microgrid)
    context = {
        "member": member,
        "month": _month_nav(first),
        "summary": _member_summary(total),
        "saved": money(total.saved_cents),
        "earned": money(total.earned_cents),
        "extra_earned": money(total.extra_earned_cents),
        "net": money(total.net_cents),
        "net_cents": total.net_cents,
        "charts": _member_charts(_chart_days(days, zone)),
        "bills": [_bill_row(b) for b in selectors.member_bills(member)[:12]],
        "meters": selectors.member_meters_with_counts(member),
        "recent_trades": [
            {
                "trade": t,
                "bought": t.buyer_id == member.pk,
                "kwh": kwh(t.wh, 3),
                "price": price(t.price),
                "money": money(t.cents),
            }
            for t in selectors.member_recent_trades(member)
        ],
        "zone": zone,
        "preferences": {
            "min_sell": price(member.min_sell) if member.min_sell is not None else None,
            "max_buy": price(member.max_buy) if member.max_buy is not None else None,
        },
        "manual_orders": settings_.mode == MarketMode.DOUBLE_AUCTION,
        "market_mode": settings_.get_mode_display(),
    }
    return render(request, "energy/member_home.html", context)


def _bill_row(bill: Bill, *, with_member: bool = False) -> dict:
    return {
        "bill": bill,
        "month": formats.date_format(bill.month, "YEAR_MONTH_FORMAT"),
        "number": str(bill.member.public_id)[:8] if with_member else None,
        "net": money(bill.net_cents),
        "saving": money(bill.saving_cents),
    }


# --- Green Button upload ------------------------------------------------------------------


class _RollBack(Exception):
    """Leave the upload's transaction without keeping anything."""


def _file_errors(exc: ValidationError) -> list[str]:
    row_errors = getattr(exc, "row_errors", None)
    if not row_errors:
        return list(exc.messages)
    lines = []
    for item in row_errors[:MAX_ROW_ERRORS]:
        problems = "; ".join(
            f"{field}: {' '.join(str(m) for m in msgs)}" for field, msgs in item["errors"].items()
        )
        lines.append(
            _("Reading %(number)d: %(problems)s")
            % {"number": item["row"] + 1, "problems": problems}
        )
    hidden = len(row_errors) - MAX_ROW_ERRORS
    if hidden > 0:
        lines.append(
            ngettext("… and %(count)d more reading.", "… and %(count)d more readings.", hidden)
            % {"count": hidden}
        )
    return lines


@member_required
def green_button_upload(request: HttpRequest, member: Member) -> HttpResponse:
    meters = member.meters.filter(is_active=True).order_by("meter_id")
    form = forms.GreenButtonUploadForm(request.POST or None, request.FILES or None, meters=meters)
    file_errors: list[dict] = []
    if request.method == "POST" and form.is_valid():
        meter = form.cleaned_data["meter"]
        imported = []
        try:
            # All files or none: each import is atomic on its own; this makes the set atomic.
            with transaction.atomic():
                for upload in form.cleaned_data["files"]:
                    try:
                        result = services.green_button_import(
                            meter=meter, data=upload.read(), acting_user=request.user
                        )
                    except ValidationError as exc:
                        file_errors.append({"name": upload.name, "errors": _file_errors(exc)})
                    else:
                        imported.append((upload.name, result))
                if file_errors:
                    raise _RollBack
        except _RollBack:
            form.add_error(
                None,
                ngettext(
                    "Nothing was imported: %(count)d file has a problem.",
                    "Nothing was imported: %(count)d files have problems.",
                    len(file_errors),
                )
                % {"count": len(file_errors)},
            )
        else:
            created = sum(r.created for _name, r in imported)
            updated = sum(r.updated for _name, r in imported)
            unchanged = sum(r.unchanged for _name, r in imported)
            messages.success(
                request,
                _(
                    "Imported %(files)d file(s) for meter %(meter)s: %(created)d new readings, "
                    "%(updated)d updated, %(unchanged)d already there."
                )
                % {
                    "files": len(imported),
                    "meter": meter.meter_id,
                    "created": created,
                    "updated": updated,
                    "unchanged": unchanged,
                },
            )
            return redirect("energy:home")
    status = 400 if form.errors else 200
    context = {"form": form, "file_errors": file_errors, "has_meters": meters.exists()}
    return render(request, "energy/upload.html", context, status=status)


# --- price preferences --------------------------------------------------------------------


def _grid_prices_now(microgrid: Organization):
    try:
        return selectors.grid_prices_at(microgrid, timezone.now())
    except ValidationError:
        return None


@member_required
def preferences(request: HttpRequest, member: Member) -> HttpResponse:
    prices = _grid_prices_now(member.microgrid)
    initial = {
        "min_sell": forms.cents_per_kwh(member.min_sell),
        "max_buy": forms.cents_per_kwh(member.max_buy),
    }
    form = forms.PreferencesForm(request.POST or None, initial=initial, prices=prices)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_set_preferences(
                member=member,
                min_sell=form.cleaned_data["min_sell_mc"],
                max_buy=form.cleaned_data["max_buy_mc"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            add_service_errors(exc, form)
        else:
            messages.success(request, _("Your price preferences are saved."))
            return redirect("energy:home")
    context = {
        "form": form,
        "feed_in": price(prices.feed_in) if prices else None,
        "retail": price(prices.retail) if prices else None,
    }
    return render(request, "energy/preferences.html", context, status=400 if form.errors else 200)


# --- manual orders ------------------------------------------------------------------------


def _upcoming_intervals(zone: ZoneInfo) -> list[tuple[str, str]]:
    now = timezone.now()
    current = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    choices = []
    for i in range(ORDER_AHEAD):
        start = current + QUARTER * i
        local = start.astimezone(zone)
        label = _("%(start)s to %(end)s") % {
            "start": formats.time_format(local, "TIME_FORMAT"),
            "end": formats.time_format((start + QUARTER).astimezone(zone), "TIME_FORMAT"),
        }
        choices.append((start.isoformat(), label))
    return choices


# The service's argument names -> the order form's fields.
ORDER_FIELDS = {"limit_price": "limit", "wh": "kwh"}


def _on_fields(exc: ValidationError, names: dict[str, str]) -> ValidationError:
    """A service's errors keyed by the form's field names, so they show beside the field."""
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError({names.get(k, k): v for k, v in exc.error_dict.items()})


@member_required
def orders(request: HttpRequest, member: Member) -> HttpResponse:
    settings_ = selectors.market_settings_for(member.microgrid)
    zone = ZoneInfo(settings_.timezone)
    open_for_orders = settings_.mode == MarketMode.DOUBLE_AUCTION
    upcoming = _upcoming_intervals(zone)
    prices = _grid_prices_now(member.microgrid)
    form = forms.OrderForm(request.POST or None, intervals=upcoming, prices=prices)
    if request.method == "POST":
        if not open_for_orders:
            raise PermissionDenied(_("Orders are placed by hand only in the double auction."))
        if form.is_valid():
            try:
                order = services.order_place(
                    member=member,
                    interval_start=datetime.fromisoformat(form.cleaned_data["interval_start"]),
                    side=form.cleaned_data["side"],
                    wh=form.cleaned_data["wh"],
                    limit_price=form.cleaned_data["limit_mc"],
                    acting_user=request.user,
                )
            except ValidationError as exc:
                add_service_errors(_on_fields(exc, ORDER_FIELDS), form)
            else:
                local = order.interval.start.astimezone(zone)
                messages.success(
                    request,
                    _("Your order for %(time)s is placed.")
                    % {"time": formats.time_format(local, "TIME_FORMAT")},
                )
                return redirect("energy:orders")
    context = {
        "form": form,
        "open_for_orders": open_for_orders,
        "orders": [
            {
                "order": o,
                "start": o.interval.start,
                "kwh": kwh(o.wh, 3),
                "limit": price(o.limit_price),
                "buy": o.side == Side.BUY,
            }
            for o in selectors.member_manual_orders(member, since=timezone.now())
        ],
        "zone": zone,
    }
    return render(request, "energy/orders.html", context, status=400 if form.errors else 200)


@require_POST
@member_required
def order_cancel(request: HttpRequest, public_id, member: Member) -> HttpResponse:
    order = get_object_or_404(Order, public_id=public_id, member=member)
    try:
        services.order_cancel(order=order, acting_user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Your order is cancelled."))
    return redirect("energy:orders")


# --- bills --------------------------------------------------------------------------------


def _bill_for(request: HttpRequest, public_id) -> tuple[Bill, bool]:
    """The bill, if the user is its member or the operator of its microgrid; else 404."""
    bill = get_object_or_404(
        Bill.objects.select_related("member", "member__microgrid"), public_id=public_id
    )
    if bill.member.user_id is not None and bill.member.user_id == request.user.pk:
        return bill, False
    if _is_operator_of(request.user, bill.member.microgrid_id):
        return bill, True
    raise Http404


@login_required
def bill_detail(request: HttpRequest, public_id) -> HttpResponse:
    bill, as_operator = _bill_for(request, public_id)
    lines = [
        {"label": line.get_kind_display(), "kwh": kwh(line.wh), "money": money(line.cents)}
        for line in bill.lines.all()
    ]
    context = {
        "bill": bill,
        "as_operator": as_operator,
        "month": formats.date_format(bill.month, "YEAR_MONTH_FORMAT"),
        "lines": lines,
        "figures": {
            "consumption": kwh(bill.consumption_wh),
            "production": kwh(bill.production_wh),
            "earnings": money(bill.earnings_cents),
            "net": money(bill.net_cents),
            "utility_only": money(bill.utility_only_cents),
            "saving": money(bill.saving_cents),
        },
        "zone": _zone(bill.member.microgrid),
        # period_end is the next month's first instant; people read the last day billed.
        "last_day": (bill.period_end - timedelta(microseconds=1))
        .astimezone(_zone(bill.member.microgrid))
        .date(),
        "paid_form": forms.BillPaidForm(initial={"paid_on": timezone.localdate()})
        if as_operator and bill.status == Bill.Status.ISSUED
        else None,
    }
    return render(request, "energy/bill.html", context)


@require_POST
@login_required
def bill_paid(request: HttpRequest, public_id) -> HttpResponse:
    bill, as_operator = _bill_for(request, public_id)
    if not as_operator:
        raise PermissionDenied(_("Only the microgrid's operator records payments."))
    form = forms.BillPaidForm(request.POST)
    if form.is_valid():
        try:
            services.bill_mark_paid(
                bill=bill, paid_on=form.cleaned_data["paid_on"], acting_user=request.user
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("The payment is recorded."))
    else:
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
    return redirect("energy:bill", bill.public_id)


# --- the operator's dashboard -------------------------------------------------------------


def _operator_charts(days, recent: list[Interval], zone: ZoneInfo) -> list:
    day_labels = [_day_label(d.day) for d in days]
    cleared = [i for i in recent if i.status == Interval.Status.CLEARED]
    times = [formats.time_format(i.start.astimezone(zone), "H:i") for i in cleared]
    return [
        line_chart(
            times,
            [
                Series(
                    _("Local price"),
                    [None if i.average_price is None else i.average_price / 1000 for i in cleared],
                ),
                Series(_("Retail (grid)"), [(i.retail_price or 0) / 1000 for i in cleared]),
                Series(_("Feed-in (grid)"), [(i.feed_in_price or 0) / 1000 for i in cleared]),
            ],
            title=_("Clearing prices of the last 96 intervals"),
            unit=_("¢/kWh"),
        ),
        bar_chart(
            day_labels,
            [
                Series(_("Traded between neighbours"), [_kwh_value(d.matched_wh) for d in days]),
                Series(_("Bought from the grid"), [_kwh_value(d.bought_grid_wh) for d in days]),
                Series(_("Sold to the grid"), [_kwh_value(d.sold_grid_wh) for d in days]),
            ],
            title=_("Community energy per day"),
            unit=_("kWh"),
        ),
        line_chart(
            day_labels,
            [
                Series(
                    _("Self-sufficiency"),
                    [
                        None if d.self_sufficiency is None else round(d.self_sufficiency * 100, 1)
                        for d in days
                    ],
                )
            ],
            title=_("Share of net demand met by neighbours' surplus, per day"),
            unit="%",
        ),
    ]


def _interval_row(interval: Interval, zone: ZoneInfo) -> dict:
    return {
        "interval": interval,
        "start": interval.start,
        "status": interval.get_status_display(),
        "settled": interval.is_settled,
        "matched": kwh(interval.matched_wh, 2),
        "demand": kwh(interval.bid_wh, 2),
        "supply": kwh(interval.offered_wh, 2),
        "price": price(interval.average_price),
        "share": percent(interval.matched_wh / interval.bid_wh) if interval.bid_wh else "—",
    }


@operator_required
def operator_home(request: HttpRequest, microgrid: Organization) -> HttpResponse:
    settings_ = selectors.market_settings_for(microgrid)
    zone = ZoneInfo(settings_.timezone)
    first = _month(request, zone)
    start, end = _month_range(first, zone)
    days = selectors.microgrid_days(microgrid, start=start, end=end, zone=zone)
    total = selectors.portal_total(days)
    recent = selectors.microgrid_recent_intervals(
        microgrid, before=min(end, timezone.now()), limit=PRICE_CHART_INTERVALS
    )
    page = Paginator(selectors.microgrid_intervals(microgrid), INTERVALS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    mode_form = forms.MarketModeForm(
        initial={"mode": settings_.mode, "local_price": forms.cents_per_kwh(settings_.local_price)}
    )
    context = {
        "microgrid": microgrid,
        "settings": settings_,
        "month": _month_nav(first),
        "community": selectors.microgrid_community(microgrid),
        "totals": {
            "consumption": kwh(total.consumption_wh),
            "production": kwh(total.production_wh),
            "demand": kwh(total.bid_wh),
            "supply": kwh(total.offered_wh),
            "matched": kwh(total.matched_wh),
            "traded": money(total.bought_local_cents),
            "grid_import": kwh(total.bought_grid_wh),
            "grid_import_cents": money(total.bought_grid_cents),
            "grid_export": kwh(total.sold_grid_wh),
            "grid_export_cents": money(total.sold_grid_cents),
            "saved": money(total.saved_cents),
            "extra_earned": money(total.extra_earned_cents),
            "self_sufficiency": percent(total.self_sufficiency),
        },
        "charts": _operator_charts(_chart_days(days, zone), recent, zone),
        "page": page,
        "intervals": [_interval_row(i, zone) for i in page.object_list],
        "mode_form": mode_form,
        "zone": zone,
        "microgrid_choices": _microgrid_choices(request),
        "microgrid_param": microgrid.pk if _microgrid_choices(request) is not None else None,
    }
    return render(request, "energy/operator_home.html", context)


@require_POST
@operator_required
def operator_mode(request: HttpRequest, microgrid: Organization) -> HttpResponse:
    form = forms.MarketModeForm(request.POST)
    if form.is_valid():
        try:
            services.market_settings_set(
                microgrid=microgrid,
                mode=form.cleaned_data["mode"],
                local_price=form.cleaned_data["local_price_mc"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                _("The clearing mode is saved. It applies to intervals cleared from now on."),
            )
    else:
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
    return redirect("energy:operator")


@operator_required
def operator_bills(request: HttpRequest, microgrid: Organization) -> HttpResponse:
    zone = _zone(microgrid)
    first = _month(request, zone)
    bills = selectors.microgrid_bills(microgrid, month=first)
    page = Paginator(bills, 50).get_page(request.GET.get("page"))
    context = {
        "microgrid": microgrid,
        "microgrid_param": microgrid.pk if _microgrid_choices(request) is not None else None,
        "month": _month_nav(first),
        "page": page,
        "bills": [_bill_row(b, with_member=True) for b in page.object_list],
    }
    return render(request, "energy/operator_bills.html", context)


# --- an interval's order book -------------------------------------------------------------


def _book_labels(
    book, ordered: list[Order], *, viewer: Member | None, as_operator: bool
) -> dict[int, str]:
    """Member id -> what this viewer sees: "You", a short number, or "Seller 2"/"Buyer 3",
    numbered in the order the book is shown."""
    labels: dict[int, str] = {}
    if as_operator:
        members = {o.member for o in book.orders}
        members |= {t.seller for t in book.trades} | {t.buyer for t in book.trades}
        members |= {g.member for g in book.grid}
        for m in members:
            labels[m.pk] = _("Member %(number)s") % {"number": str(m.public_id)[:8]}
        return labels
    counters = {Side.SELL: 0, Side.BUY: 0}
    for order in ordered:
        if order.member_id in labels:
            continue
        if viewer is not None and order.member_id == viewer.pk:
            labels[order.member_id] = _("You")
            continue
        counters[order.side] += 1
        template = _("Seller %(number)d") if order.side == Side.SELL else _("Buyer %(number)d")
        labels[order.member_id] = template % {"number": counters[order.side]}
    return labels


def _label(labels: dict[int, str], member_id: int) -> str:
    return labels.get(member_id) or _("A member")


@login_required
def interval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    interval = get_object_or_404(Interval.objects.select_related("microgrid"), pk=pk)
    viewer = selectors.member_for_user(request.user)
    as_operator = _is_operator_of(request.user, interval.microgrid_id)
    if not as_operator and (viewer is None or viewer.microgrid_id != interval.microgrid_id):
        raise Http404
    zone = _zone(interval.microgrid)
    book = selectors.interval_book(interval)
    # An order book lists offers from the cheapest and bids from the highest: the order in
    # which the market serves them.
    offer_orders = [o for o in book.orders if o.side == Side.SELL]
    bid_orders = sorted(
        (o for o in book.orders if o.side == Side.BUY), key=lambda o: -o.limit_price
    )
    labels = _book_labels(
        book,
        offer_orders + bid_orders,
        viewer=None if as_operator else viewer,
        as_operator=as_operator,
    )

    def order_row(order: Order) -> dict:
        return {
            "who": _label(labels, order.member_id),
            "mine": viewer is not None and order.member_id == viewer.pk,
            "kwh": kwh(order.book_wh if order.book_wh is not None else order.wh, 3),
            "ordered": kwh(order.wh, 3),
            "limit": price(order.limit_price),
            "traded": kwh(order.traded_wh, 3) if order.traded_wh is not None else "—",
            "source": order.get_source_display(),
            "cancelled": order.status == Order.Status.CANCELLED,
        }

    offers = [order_row(o) for o in offer_orders]
    bids = [order_row(o) for o in bid_orders]
    trades = [
        {
            "seller": _label(labels, t.seller_id),
            "buyer": _label(labels, t.buyer_id),
            "mine": viewer is not None and viewer.pk in (t.seller_id, t.buyer_id),
            "kwh": kwh(t.wh, 3),
            "price": price(t.price),
            "money": money(t.cents),
        }
        for t in book.trades
    ]
    grid = [
        {
            "who": _label(labels, g.member_id),
            "mine": viewer is not None and g.member_id == viewer.pk,
            "direction": g.get_direction_display(),
            "kwh": kwh(g.wh, 3),
            "price": price(g.price),
            "money": money(g.cents),
        }
        for g in book.grid
    ]
    grid_import = [g for g in book.grid if g.direction == "import"]
    grid_export = [g for g in book.grid if g.direction == "export"]
    context = {
        "interval": interval,
        "zone": zone,
        "as_operator": as_operator,
        "offers": offers,
        "bids": bids,
        "trades": trades,
        "grid": grid,
        "totals": {
            "offered": kwh(interval.offered_wh, 3),
            "bid": kwh(interval.bid_wh, 3),
            "matched": kwh(interval.matched_wh, 3),
            "max_matchable": kwh(interval.max_matchable_wh, 3),
            "traded": money(interval.traded_cents),
            "traded_wh": kwh(sum(t.wh for t in book.trades), 3),
            "grid_import": kwh(sum(g.wh for g in grid_import), 3),
            "grid_import_cents": money(sum(g.cents for g in grid_import)),
            "grid_export": kwh(sum(g.wh for g in grid_export), 3),
            "grid_export_cents": money(sum(g.cents for g in grid_export)),
            "average_price": price(interval.average_price),
            "retail": price(interval.retail_price),
            "feed_in": price(interval.feed_in_price),
        },
        "neighbours": selectors.interval_neighbours(interval),
    }
    return render(request, "energy/interval.html", context)
