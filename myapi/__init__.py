"""OX Universe API."""
