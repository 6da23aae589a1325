"""Celery tasks of the orders app."""

from celery import shared_task
from django.core.mail import send_mail

from .models import Order


@shared_task(acks_late=True)
def send_order_email(order_id, kind):
    order = Order.objects.get(pk=order_id)
    send_mail(f"Order {order.number}: {kind}", f"Your order {order.number} was {kind}.", None, [order.email])
