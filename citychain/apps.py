from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CitychainConfig(AppConfig):
    name = "citychain"
    verbose_name = _("citychain")

    def ready(self) -> None:
        from citychain.roles import sync_roles

        post_migrate.connect(sync_roles, dispatch_uid="citychain.sync_roles")
