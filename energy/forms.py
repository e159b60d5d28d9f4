"""The energy portal's forms. People see prices in ¢/kWh and energy in kWh; the services take
integer m¢/kWh and Wh, so the forms convert (exactly: at most 3 decimals of ¢/kWh and of kWh).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from energy.market import GridPrices
from energy.models import MarketMode, Side

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_FILES = 12


def cents_per_kwh(millicents: int | None) -> Decimal | None:
    """m¢/kWh (int) to ¢/kWh, as people read it."""
    if millicents is None:
        return None
    return Decimal(millicents) / 1000  # exact, with no trailing zeros: 12_500 -> 12.5


def price_field(label, *, required: bool = False, help_text="") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_digits=9,
        decimal_places=3,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.001", "inputmode": "decimal"}),
    )


def to_millicents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 1000)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or more files, each checked like a FileField (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if not data:
            return [single(None, initial)]  # "This field is required." when it is
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class GreenButtonUploadForm(forms.Form):
    meter = forms.ModelChoiceField(
        label=_("Meter"),
        queryset=None,
        empty_label=None,
        help_text=_("The readings are stored for this meter."),
    )
    files = MultipleFileField(
        label=_("Green Button files"),
        help_text=_(
            "“Download My Data” files from your utility: ESPI XML or CSV, up to 20 MB each. "
            "You may choose several. If any file has a problem, nothing is imported."
        ),
    )

    def __init__(self, *args, meters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["meter"].queryset = meters
        self.fields["files"].widget.attrs["accept"] = ".xml,.csv,text/csv,application/xml"

    def clean_files(self):
        uploads = self.cleaned_data["files"]
        if len(uploads) > MAX_UPLOAD_FILES:
            raise forms.ValidationError(
                _("Choose at most %(count)d files at a time."), params={"count": MAX_UPLOAD_FILES}
            )
        problems = []
        for upload in uploads:
            if upload.size > MAX_UPLOAD_BYTES:
                problems.append(
                    forms.ValidationError(
                        _("%(name)s: the file is larger than 20 MB."), params={"name": upload.name}
                    )
                )
        if problems:
            raise forms.ValidationError(problems)
        return uploads


class PreferencesForm(forms.Form):
    """Standing price limits, between the grid's feed-in and retail prices."""

    min_sell = price_field(_("Lowest price I sell at (¢/kWh)"))
    max_buy = price_field(_("Highest price I buy at (¢/kWh)"))

    def __init__(self, *args, prices: GridPrices | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.prices = prices
        if prices is not None:
            low, high = cents_per_kwh(prices.feed_in), cents_per_kwh(prices.retail)
            self.fields["min_sell"].help_text = _(
                "Leave empty to sell at any price from the grid's feed-in price "
                "(%(low)s ¢/kWh) up. At most %(high)s ¢/kWh."
            ) % {"low": low, "high": high}
            self.fields["max_buy"].help_text = _(
                "Leave empty to buy at any price up to the grid's retail price "
                "(%(high)s ¢/kWh). At least %(low)s ¢/kWh."
            ) % {"low": low, "high": high}
            for name in ("min_sell", "max_buy"):
                self.fields[name].widget.attrs.update({"min": str(low), "max": str(high)})

    def clean(self):
        cleaned = super().clean()
        if self.prices is None:
            raise forms.ValidationError(
                _("The microgrid has no tariff yet, so prices cannot be set. Ask the operator.")
            )
        low, high = self.prices.feed_in, self.prices.retail
        limits = {}
        for name in ("min_sell", "max_buy"):
            value = to_millicents(cleaned.get(name))
            if value is not None and not low <= value <= high:
                self.add_error(
                    name,
                    _("Choose a price from %(low)s to %(high)s ¢/kWh.")
                    % {"low": cents_per_kwh(low), "high": cents_per_kwh(high)},
                )
            limits[name] = value
        if (
            not self.errors
            and limits["min_sell"] is not None
            and limits["max_buy"] is not None
            and limits["min_sell"] > limits["max_buy"]
        ):
            self.add_error(
                "min_sell",
                _("Your lowest selling price cannot be above your highest buying price."),
            )
        cleaned["min_sell_mc"], cleaned["max_buy_mc"] = (
            limits.get("min_sell"),
            limits.get("max_buy"),
        )
        return cleaned


class OrderForm(forms.Form):
    """A manual bid or offer for an interval that has not ended yet (double auction only)."""

    interval_start = forms.TypedChoiceField(label=_("Interval"), choices=(), coerce=str)
    side = forms.ChoiceField(
        label=_("I want to"),
        choices=[(Side.BUY, _("Buy energy")), (Side.SELL, _("Sell energy"))],
        widget=forms.RadioSelect,
    )
    kwh = forms.DecimalField(
        label=_("Energy (kWh)"),
        min_value=Decimal("0.001"),
        max_value=Decimal(1000),
        max_digits=7,
        decimal_places=3,
        help_text=_("At most this much; what trades is capped by what your meter measures."),
        widget=forms.NumberInput(attrs={"step": "0.001", "inputmode": "decimal"}),
    )
    limit = price_field(_("Limit price (¢/kWh)"), required=True)

    def __init__(self, *args, intervals: list[tuple[str, str]], prices: GridPrices | None, **kw):
        super().__init__(*args, **kw)
        self.fields["interval_start"].choices = intervals
        self.prices = prices
        if prices is not None:
            self.fields["limit"].help_text = _(
                "Buying: the most you pay. Selling: the least you accept. Between the grid's "
                "feed-in and retail prices in that interval (now %(low)s to %(high)s ¢/kWh)."
            ) % {"low": cents_per_kwh(prices.feed_in), "high": cents_per_kwh(prices.retail)}

    def clean(self):
        # The limit's bounds are the grid's prices in the chosen interval (time-of-use
        # periods move them): the service checks it and names the field.
        cleaned = super().clean()
        cleaned["limit_mc"] = to_millicents(cleaned.get("limit"))
        if cleaned.get("kwh") is not None:
            cleaned["wh"] = int(cleaned["kwh"] * 1000)
        return cleaned


class MarketModeForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("Clearing mode"), choices=MarketMode.choices, widget=forms.RadioSelect
    )
    local_price = price_field(
        _("Local price for pro-rata sharing (¢/kWh)"),
        help_text=_("Leave empty for halfway between the feed-in and retail prices."),
    )

    def clean(self):
        cleaned = super().clean()
        cleaned["local_price_mc"] = to_millicents(cleaned.get("local_price"))
        if cleaned.get("mode") == MarketMode.DOUBLE_AUCTION:
            cleaned["local_price_mc"] = None
        return cleaned


class BillPaidForm(forms.Form):
    paid_on = forms.DateField(
        label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}), required=True
    )
