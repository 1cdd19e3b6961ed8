"""Localpost's webmail.

Reads mail from the mail store and sends it through the gateway's submission port.
"""
