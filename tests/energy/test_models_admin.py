"""The energy admin: every model's pages open, nothing is editable, no member's name shows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from citychain import roles
from energy import models, services
from tests.energy.test_services import T0, feed, homes, microgrid  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MODELS = [
    models.MarketSettings,
    models.Tariff,
    models.Member,
    models.Meter,
    models.Reading,
    models.Interval,
    models.Order,
    models.Trade,
    models.GridSettlement,
    models.Bill,
    models.Payment,
]


def test_admin_pages_show_history_read_only_without_names(client, microgrid, homes):  # noqa: F811
    feed(homes, T0, {"ann": -600, "bea": -400, "cal": 300, "dov": 900})
    (bill, *_rest) = services.bills_make_month(microgrid=microgrid, year=2026, month=6)
    services.bill_mark_paid(bill=bill)
    admin = UserFactory(username="admin", role=roles.CITY_ADMIN, is_superuser=True)
    client.force_login(admin)
    for model in MODELS:
        meta = model._meta
        changelist = client.get(reverse(f"admin:energy_{meta.model_name}_changelist"))
        assert changelist.status_code == 200, meta.model_name
        obj = model.objects.first()
        change = client.get(reverse(f"admin:energy_{meta.model_name}_change", args=[obj.pk]))
        assert change.status_code == 200, meta.model_name
        for page in (changelist, change):
            text = page.content.decode()
            for name in ("ann", "bea", "cal", "dov"):
                assert f">{name}<" not in text and f'"{name}"' not in text
        assert client.get(reverse(f"admin:energy_{meta.model_name}_add")).status_code == 403
