"""The energy portal's pages."""

from django.urls import path

from energy import views

app_name = "energy"

urlpatterns = [
    path("", views.member_home, name="home"),
    path("upload/", views.green_button_upload, name="upload"),
    path("preferences/", views.preferences, name="preferences"),
    path("orders/", views.orders, name="orders"),
    path("orders/<uuid:public_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("bills/<uuid:public_id>/", views.bill_detail, name="bill"),
    path("bills/<uuid:public_id>/paid/", views.bill_paid, name="bill_paid"),
    path("operator/", views.operator_home, name="operator"),
    path("operator/mode/", views.operator_mode, name="operator_mode"),
    path("operator/bills/", views.operator_bills, name="operator_bills"),
    path("intervals/<int:pk>/", views.interval_detail, name="interval"),
]
