"""The measurement modes: drain and backlog, steady, ramp, group fan-out."""

from __future__ import annotations
