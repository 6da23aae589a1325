from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/pay/done/", views.card_return, name="card_return"),
]
