"""Payments: payments, refunds and provider webhooks."""
