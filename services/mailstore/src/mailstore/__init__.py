"""Localpost's mail store.

Consumes accepted mail from RabbitMQ into PostgreSQL and serves it over an internal HTTP API.
"""
