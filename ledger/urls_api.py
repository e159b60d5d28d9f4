from django.urls import path

from ledger import api

app_name = "ledger-api"

urlpatterns = [
    path("head/", api.HeadView.as_view(), name="head"),
    path("blocks/", api.BlockListView.as_view(), name="blocks"),
    path("blocks/<str:height>/", api.BlockDetailView.as_view(), name="block"),
    path("entries/<str:leaf_index>/", api.EntryDetailView.as_view(), name="entry"),
    path("entries/<str:leaf_index>/proof/", api.InclusionProofView.as_view(), name="proof"),
    path("consistency/", api.ConsistencyProofView.as_view(), name="consistency"),
    path("key/", api.PublicKeyView.as_view(), name="key"),
    path("checkpoint", api.CheckpointView.as_view(), name="checkpoint"),
]
