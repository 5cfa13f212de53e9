"""Placeholder: the costs commands are added by their own work item."""

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    return None
