"""Every page at desktop and phone width: readable (no sideways scrolling) and pictured.

Set ``LONGHAUL_VIEWER_SCREENSHOTS=docs/viewer`` to refresh the README's pictures; otherwise
they go to a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Demo, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def _pages(demo: Demo) -> dict[str, str]:
    return {
        "login": "/ui/login",
        "jobs": "/ui/jobs",
        "job-output": f"/ui/jobs/{demo.jobs['web-search']}",
        "job-tools": f"/ui/jobs/{demo.jobs['code']}?tab=tools",
        "job-files": f"/ui/jobs/{demo.jobs['code']}?tab=files",
        "job-image": f"/ui/jobs/{demo.jobs['image']}?tab=tools",
        "job-cost": f"/ui/jobs/{demo.jobs['code']}?tab=cost",
        "job-deliveries": f"/ui/jobs/{demo.jobs['web-search']}?tab=deliveries",
        "usage": "/ui/usage",
    }


def test_every_page_fits_desktop_and_phone(browser: Any, demo: Demo, tmp_path: Path) -> None:
    folder = Path(os.environ.get("LONGHAUL_VIEWER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for width_name, (width, height) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            for name, path in _pages(demo).items():
                if name == "login":
                    page.goto(f"{demo.url}{path}")
                    page.screenshot(path=folder / f"{name}-{width_name}.png")
                    sign_in(page, demo)
                    continue
                page.goto(f"{demo.url}{path}")
                page.wait_for_load_state("load")
                page.wait_for_function(  # images on screen (the others load lazily)
                    "() => [...document.images].filter(i => i.offsetParent && "
                    "i.getBoundingClientRect().top < innerHeight).every(i => i.complete)"
                )
                overflow = page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {width}px"
                shot = folder / f"{name}-{width_name}.png"
                page.screenshot(path=shot, full_page=width_name == "phone" and name == "jobs")
                assert shot.stat().st_size > 5000
        finally:
            context.close()


def test_dark_theme_follows_the_system_and_toggles(
    browser: Any, demo: Demo, tmp_path: Path
) -> None:
    folder = Path(os.environ.get("LONGHAUL_VIEWER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    try:
        sign_in(page, demo)
        background = "() => getComputedStyle(document.body).backgroundColor"
        assert page.evaluate(background) == "rgb(22, 24, 27)"
        page.goto(f"{demo.url}/ui/jobs/{demo.jobs['code']}?tab=tools")
        page.screenshot(path=folder / "job-tools-dark.png")
        page.keyboard.press("t")  # the theme key: light, remembered across pages
        assert page.evaluate(background) == "rgb(247, 247, 245)"
        page.goto(f"{demo.url}/ui/jobs")
        assert page.evaluate(background) == "rgb(247, 247, 245)"
    finally:
        context.close()
