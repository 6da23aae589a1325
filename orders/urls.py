from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/lines/<int:line_id>/", views.cart_update, name="cart_update"),
    path("cart/lines/<int:line_id>/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/review/", views.checkout_review, name="checkout_review"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<str:number>/", views.order_detail, name="order_detail"),
    path("orders/<str:number>/thanks/", views.order_confirmation, name="order_confirmation"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="order_cancel"),
]
