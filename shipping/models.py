"""Shipping: warehouses, stock levels and shipments."""
