"""The public voting API (voting.api), under /api/voting/."""

from django.urls import path

from voting import api

app_name = "voting-api"

urlpatterns = [
    path("elections/", api.ElectionListView.as_view(), name="elections"),
    path("elections/<str:election_id>/", api.ElectionDetailView.as_view(), name="election"),
    path("elections/<str:election_id>/ballots/", api.BallotBoardView.as_view(), name="ballots"),
    path("elections/<str:election_id>/results/", api.ResultsView.as_view(), name="results"),
    path("track/<str:tracking_code>/", api.TrackView.as_view(), name="track"),
]
