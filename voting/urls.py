"""The voter portal, public: vote with a credential, track a ballot, see results."""

from django.urls import path

from voting import views

app_name = "voting"

urlpatterns = [
    path("", views.enter, name="enter"),
    path("track/", views.track, name="track"),
    path("<int:election_id>/", views.credential, name="credential"),
    path("<int:election_id>/ballot/", views.ballot, name="ballot"),
    path("<int:election_id>/review/", views.review, name="review"),
    path("<int:election_id>/receipt/", views.receipt, name="receipt"),
    path("<int:election_id>/results/", views.results, name="results"),
]
