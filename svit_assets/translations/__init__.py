"""Translations of every task set into the MIMIC-IT languages (see schema.py for the contract)."""
