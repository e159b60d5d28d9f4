"""The portal's shell: landing, sign-in, dashboard by role, error pages, languages."""

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from citychain import roles
from identity.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_home_page_is_public(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"City services for every resident" in response.content
    assert b'href="#main"' in response.content  # skip link


def test_dashboard_needs_sign_in(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_caseworker_signs_in_and_sees_dashboard(client):
    UserFactory(username="cw", role=roles.CASEWORKER)
    response = client.post(reverse("login"), {"username": "cw", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert b"Caseworker" in response.content
    assert b"Test Shelter" in response.content


def test_wrong_password_gets_a_clear_message(client):
    UserFactory(username="cw")
    response = client.post(reverse("login"), {"username": "cw", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_sign_out(client):
    user = UserFactory(username="cw")
    client.force_login(user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_link(client):
    UserFactory(username="cw", email="cw@example.org")
    response = client.post(reverse("password_reset"), {"email": "cw@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


def test_status_page_is_for_city_admins_only(client):
    client.force_login(UserFactory(username="cw", role=roles.CASEWORKER))
    assert client.get(reverse("status")).status_code == 403
    client.force_login(UserFactory(username="boss", role=roles.CITY_ADMIN))
    assert client.get(reverse("status")).status_code == 200


def test_navigation_follows_role(client):
    client.force_login(UserFactory(username="cw", role=roles.CASEWORKER))
    page = client.get(reverse("dashboard")).content
    assert b'href="/admin/"' not in page
    client.force_login(UserFactory(username="boss", role=roles.CITY_ADMIN))
    page = client.get(reverse("dashboard")).content
    assert b'href="/admin/"' in page


def test_unknown_url_gets_the_styled_404(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"citychain.css" in response.content


def test_server_error_page_is_styled_and_safe(client, settings):
    settings.DEBUG = False
    from citychain.views import server_error

    response = server_error(None)
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content


def test_spanish_translation_of_the_shell(client):
    response = client.post(reverse("set_language"), {"language": "es", "next": "/"}, follow=True)
    assert response.status_code == 200
    assert b'lang="es"' in response.content
    assert b"Servicios de la ciudad para cada residente" in response.content
    assert b"Saltar al contenido principal" in response.content


def test_healthz(client):
    assert client.get(reverse("healthz")).json() == {"database": "ok"}


def test_roles_exist_as_groups_with_permissions():
    from django.contrib.auth.models import Group

    roles.sync_roles()
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)
    admin_group = Group.objects.get(name=roles.CITY_ADMIN)
    assert admin_group.permissions.filter(codename="change_organization").exists()


def test_seed_demo_is_idempotent_and_prints_logins(capsys, monkeypatch):
    from credit import demo as credit_demo
    from energy import demo as energy_demo

    # Every seeder runs; energy and credit at a smaller scale (their own tests check the
    # data, and bench/energy_portal.py times the full seed).
    monkeypatch.setattr(energy_demo, "HOMES", 8)
    monkeypatch.setattr(energy_demo, "WITH_SOLAR", 4)
    monkeypatch.setattr(energy_demo, "DAYS", 1)
    monkeypatch.setattr(energy_demo, "BILL_DAYS", 1)
    monkeypatch.setattr(credit_demo, "RESIDENTS", 60)
    call_command("seed_demo")
    first = User.objects.count()
    call_command("seed_demo")
    assert User.objects.count() == first
    out = capsys.readouterr().out
    assert "caseworker" in out and "citychain-demo" in out
    assert User.objects.get(username="caseworker").check_password("citychain-demo")


def test_admin_lists_staff_for_a_city_admin(client):
    client.force_login(UserFactory(username="boss", role=roles.CITY_ADMIN))
    response = client.get("/admin/identity/user/")
    assert response.status_code == 200
    assert b"boss" in response.content


def test_admin_refuses_non_staff(client):
    client.force_login(UserFactory(username="cw", role=roles.CASEWORKER))
    response = client.get("/admin/")
    assert response.status_code == 302


@pytest.mark.parametrize(
    "model",
    ["resident", "citycard", "consent", "accessevent", "document", "documentattestation",
     "encounter", "referral", "residentlink", "project", "enrollment"],
)  # fmt: skip
def test_identity_admin_pages_open_and_show_no_personal_data(client, model):
    from identity import services
    from tests.identity.conftest import resident_data

    boss = UserFactory(username="boss", role=roles.CITY_ADMIN)
    services.resident_enroll(acting_user=boss, data=resident_data())
    client.force_login(boss)
    listing = client.get(f"/admin/identity/{model}/")
    assert listing.status_code == 200
    assert b"Garc" not in listing.content and b"1980" not in listing.content
