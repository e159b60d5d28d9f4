"""The shared people and institutions: organizations and the staff who work for them.

Residents (the people served) join this module with the identity issue; every
other app may import `Organization` (and later `Resident`) from here, and
nothing else.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    class Kind(models.TextChoices):
        SHELTER = "shelter", _("Shelter")
        CLINIC = "clinic", _("Clinic")
        OUTREACH = "outreach", _("Street outreach")
        VICTIM_SERVICES = "victim_services", _("Victim-service provider")
        LANDLORD = "landlord", _("Landlord")
        UTILITY = "utility", _("Utility")
        MICROGRID = "microgrid", _("Microgrid operator")
        LENDING_CIRCLE = "lending_circle", _("Lending circle / community fund")
        CITY_DEPARTMENT = "city_department", _("City department")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    hud_organization_id = models.CharField(
        _("HMIS organization ID"),
        max_length=32,
        blank=True,
        help_text=_("The ID your Continuum of Care's HMIS uses for this organization, if any."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name

    @property
    def is_victim_service_provider(self) -> bool:
        """VAWA: such providers' residents never reach the ledger or client-level exports."""
        return self.kind == self.Kind.VICTIM_SERVICES


class User(AbstractUser):
    """A staff account. Roles are Django groups (see citychain.roles)."""

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text=_("Where this person works. City admins may belong to none."),
    )

    class Meta:
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")
