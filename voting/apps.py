from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VotingConfig(AppConfig):
    name = "voting"
    verbose_name = _("Voting")

    def ready(self) -> None:
        # Declared here, not in services, so every process (the explorer, the API, a
        # verifier) knows these kinds are public even if it never imports the services.
        from ledger import kinds

        for name, description in (
            ("voting.election_status", "An election was opened, closed or certified"),
            ("voting.ballot_cast", "A ballot was cast: its tracking code and selections"),
            ("voting.roll_updated", "Voters were added to an election's roll"),
            ("voting.credentials_issued", "Voting credentials were issued or reissued"),
            (
                "voting.credentials_voided",
                "Credentials that never reached their voters were voided",
            ),
            ("voting.ties_decided", "Officials recorded how a tied contest was decided"),
        ):
            kinds.register(name, kinds.Visibility.PUBLIC, description)
