"""Providers: one package per provider, one module per cloud service."""
