"""Wirepost: a self-hosted HTTP message queue with signed delivery (QStash v2 wire-compatible)."""

from __future__ import annotations

__version__ = "0.1.0"
