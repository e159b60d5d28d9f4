from django.urls import path

from ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("blocks/<int:height>/", views.block_detail, name="block"),
    path("entries/<int:leaf_index>/", views.entry_detail, name="entry"),
]
