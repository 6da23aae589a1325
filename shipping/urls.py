from django.urls import path

from . import views

app_name = "shipping"

urlpatterns = [
    path("track/", views.track, name="track"),
    path("staff/shipments/<int:pk>/packing-slip/", views.packing_slip, name="packing_slip"),
    path("staff/low-stock/", views.low_stock, name="low_stock"),
]
