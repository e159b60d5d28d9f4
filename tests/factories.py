"""factory_boy factories for the shared people and institutions."""

import factory
from django.contrib.auth.models import Group

from citychain import roles
from identity.models import Organization, User

PASSWORD = "a-long-test-passphrase"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Test Shelter {n}")
    kind = Organization.Kind.SHELTER


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Sam"
    last_name = "Rivera"
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            roles.sync_roles()
            self.groups.add(Group.objects.get(name=extracted))
            if roles.ROLES[extracted].staff:
                self.is_staff = True
        if create:
            self.save()
