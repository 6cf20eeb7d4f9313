"""Placeholder until this page lands."""

from __future__ import annotations

from fastapi import APIRouter

from loopstack.ui._context import UIContext


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    """No routes yet."""
