"""The election officials' pages, at /officials/."""

from django.urls import path

from voting import views_official as views

app_name = "voting-official"

urlpatterns = [
    path("", views.election_list, name="elections"),
    path("new/", views.election_new, name="election_new"),
    path("<int:pk>/", views.election_detail, name="election"),
    path("<int:pk>/contests/", views.contest_add, name="contest_add"),
    path("<int:pk>/contests/<int:contest_pk>/choices/", views.choice_add, name="choice_add"),
    path("<int:pk>/open/", views.election_transition, {"action": "open"}, name="open"),
    path("<int:pk>/close/", views.election_transition, {"action": "close"}, name="close"),
    path("<int:pk>/certify/", views.election_transition, {"action": "certify"}, name="certify"),
    path("<int:pk>/roll/", views.roll, name="roll"),
    path("<int:pk>/roll/upload/", views.roll_upload, name="roll_upload"),
    path("<int:pk>/roll/residents/", views.roll_residents, name="roll_residents"),
    path("<int:pk>/credentials/", views.credentials, name="credentials"),
    path("<int:pk>/results/", views.results, name="results"),
    path("<int:pk>/contests/<int:contest_pk>/ties/", views.ties_decide, name="ties_decide"),
]
