"""Tests of the `lunar` client CLI against a real daemon."""
