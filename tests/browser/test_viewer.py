"""The viewer in a real browser: sign-in, each kind of job, live progress, actions, usage."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from tests.browser.conftest import ADMIN_KEY, Demo, sign_in, submit
from tests.support.stack import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def listed(page: Any) -> list[str]:
    """The job ids in the jobs table, top to bottom."""
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        "table.jobs tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)"
    )


def test_sign_in_rejects_a_wrong_key_then_lists_own_jobs_only(page: Any, demo: Demo) -> None:
    page.goto(f"{demo.url}/ui/jobs")
    page.fill("#key", "lh_sk_wrong")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    page.fill("#key", demo.key)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/jobs")
    ids = listed(page)
    for name in ("reasoning", "web-search", "image", "code", "xss"):
        assert demo.jobs[name] in ids, name
    assert demo.jobs["other-tenant"] not in ids
    cookie = next(c for c in page.context.cookies() if c["name"] == "longhaul_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # Another tenant's job is a 404 page, not a 403 that confirms it exists.
    response = page.goto(f"{demo.url}/ui/jobs/{demo.jobs['other-tenant']}")
    assert response.status == 404
    # Only the 401 and 404 documents themselves show up as console errors.
    assert all(e.startswith("Failed to load resource") for e in page.errors), page.errors


def test_admin_key_sees_every_tenant(page: Any, demo: Demo) -> None:
    sign_in(page, demo, ADMIN_KEY)
    ids = listed(page)
    assert demo.jobs["other-tenant"] in ids and demo.jobs["reasoning"] in ids
    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['other-tenant']}")
    assert page.locator("#cancel, #delete").count() == 0  # read-only


def test_filters_sort_and_pages_are_in_the_url(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    page.fill("#q", "lighthouse")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=lighthouse**")
    ids = listed(page)
    assert ids == [demo.jobs["image"]]
    page.goto(f"{demo.url}/ui/jobs?model=o4-mini&sort=cost&dir=asc")
    ids = listed(page)
    assert set(ids) == {demo.jobs["reasoning"], demo.jobs["xss"]}
    page.goto(f"{demo.url}/ui/jobs?meta=demo%3Dcode")
    ids = listed(page)
    assert ids == [demo.jobs["code"]]
    row = page.locator(f"tr[data-id='{demo.jobs['code']}']")
    assert row.locator("[data-cell=files]").inner_text() == "3"
    assert row.locator("[data-cell=webhook]").inner_text() == "delivered"
    assert row.locator("[data-cell=cost]").inner_text().startswith("$")
    # Keyboard: j selects the first row, Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/jobs/{demo.jobs['code']}")


def test_each_kind_of_job_is_drawn(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['reasoning']}")
    assert "Planning the response" in page.inner_text("details.reasoning")
    assert "Simulated answer" in page.inner_text("#output")

    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['web-search']}?tab=tools")
    sources = page.eval_on_selector_all(
        ".t-web_search_call .sources a", "links => links.map(a => a.href)"
    )
    assert sources and all(s.startswith("https://") for s in sources)
    page.click("#tab-link-overview")
    cited = page.eval_on_selector_all("ol.sources a", "as => as.map(a => a.rel)")
    assert cited and all("noopener" in rel for rel in cited)

    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['image']}?tab=tools")
    image = page.locator(".t-image_generation_call img.artifact-img").first
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('.t-image_generation_call img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    assert image.evaluate("i => i.naturalWidth") > 0

    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['code']}?tab=tools")
    assert "import pandas" in page.inner_text(".t-code_interpreter_call .code")
    assert page.locator(".t-code_interpreter_call .code .hl span").count() > 3  # highlighted
    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['code']}?tab=files")
    csv_file = page.locator("#tab-files figure.file", has_text="results_2.csv")
    csv_file.locator("details.preview summary").click()
    csv_file.locator("table.preview th").first.wait_for()
    assert csv_file.locator("table.preview th").all_inner_texts() == ["index", "value"]
    chart = page.locator("#tab-files figure.file", has_text="chart_1.png").locator("img")
    chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#tab-files img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    text_file = page.locator("#tab-files figure.file", has_text="summary_3.txt")
    download = text_file.locator("a[download]")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "summary_3.txt"

    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['code']}?tab=cost")
    bars = page.locator("#cost-chart rect")
    assert bars.count() >= 2
    assert all(float(bars.nth(i).get_attribute("width") or 0) > 0 for i in range(bars.count()))
    assert page.locator("table.ledger tbody tr").count() >= 2

    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['code']}?tab=raw")
    page.wait_for_function(
        "() => document.getElementById('raw-json').dataset.loaded "
        "&& !document.getElementById('raw-json').textContent.startsWith('Load')"
    )
    assert f'"id": "{demo.jobs["code"]}"' in page.inner_text("#raw-json")
    page.keyboard.press("6")  # keyboard tab switch: timeline
    assert page.locator("#tab-timeline").is_visible()
    assert "completed" in page.inner_text("#tab-timeline")
    assert page.errors == []


def test_artifact_responses_are_never_sniffed(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    page.goto(f"{demo.url}/ui/jobs/{demo.jobs['image']}?tab=files")
    src = page.get_attribute("#tab-files img", "src")
    response = page.request.get(f"{demo.url}{src}")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "image/png"
    assert "sandbox" in response.headers["content-security-policy"]
    # Without the session cookie: no file.
    assert httpx.get(f"{demo.url}{src}", follow_redirects=False).status_code == 303


def test_running_job_updates_live_then_cancel_from_the_page(page: Any, demo: Demo) -> None:
    slow = submit(demo, sim="slow:6", text="A slow job")
    sign_in(page, demo)
    page.goto(f"{demo.url}/ui/jobs")
    row = page.locator(f"tr[data-id='{slow}']")
    assert row.get_attribute("data-active") == "1"
    page.goto(f"{demo.url}/ui/jobs/{slow}")
    page.evaluate("() => { window.__same_page = true; }")
    first = int(page.inner_text("#live-polls"))
    page.wait_for_function(
        f"() => +document.getElementById('live-polls').textContent > {first}", timeout=30_000
    )
    assert page.evaluate("() => window.__same_page") is True  # updated in place, no reload
    assert "Live:" in page.inner_text("#live-line")
    # Once finished the page loads the result by itself.
    page.wait_for_selector("#output", timeout=60_000)
    assert "completed" in page.inner_text("#live-status")

    stuck = submit(demo, sim="stuck", text="A job that never ends")
    page.goto(f"{demo.url}/ui/jobs/{stuck}")
    page.once("dialog", lambda d: d.accept())
    page.click("#cancel")
    page.wait_for_url("**done=cancel**")
    assert "Cancel requested" in page.inner_text(".flash")
    wait_for(
        lambda: demo.stack.statuses(demo.key, [stuck]) == ["cancelled"],  # type: ignore[union-attr]
        timeout=60,
        what="cancelled",
    )


def test_redeliver_and_delete_from_the_page(page: Any, demo: Demo) -> None:
    job = demo.jobs["reasoning"]
    assert demo.receiver is not None
    before = len(demo.receiver.for_job(job))
    sign_in(page, demo)
    page.goto(f"{demo.url}/ui/jobs/{job}?tab=deliveries")
    assert page.locator("table.attempts tbody tr").count() >= 1
    page.once("dialog", lambda d: d.accept())
    page.click("#redeliver")
    page.wait_for_url("**done=redeliver**")
    receiver = demo.receiver
    wait_for(lambda: len(receiver.for_job(job)) > before, timeout=30, what="redelivery")
    page.goto(f"{demo.url}/ui/jobs/{job}?tab=deliveries")
    assert page.locator("table.attempts tbody tr").count() >= 2

    doomed = submit(demo, sim="slow:0", text="A job to delete")
    wait_for(
        lambda: demo.stack.statuses(demo.key, [doomed]) == ["completed"],  # type: ignore[union-attr]
        timeout=60,
        what="completed",
    )
    page.goto(f"{demo.url}/ui/jobs/{doomed}")
    page.once("dialog", lambda d: d.dismiss())  # a dismissed confirmation does nothing
    page.click("#delete")
    assert page.url.endswith(doomed)
    page.once("dialog", lambda d: d.accept())
    page.click("#delete")
    page.wait_for_url("**/ui/jobs?deleted=*")
    assert page.goto(f"{demo.url}/ui/jobs/{doomed}").status == 404


def test_usage_page_chart_gauge_and_csv(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    page.goto(f"{demo.url}/ui/usage")
    assert page.locator("#chart-models rect").count() >= 1
    assert page.locator("#chart-tools rect").count() >= 1
    assert page.locator("#budget-gauge path.track").count() == 1  # the demo tenant has $1
    assert page.locator("#budget-gauge path.level").count() == 1
    assert page.inner_text("#usage-total").startswith("$")
    csv = page.request.get(f"{demo.url}{page.get_attribute('#csv', 'href')}")
    assert csv.status == 200 and csv.text().startswith("day,model,tool,cost_usd")
    assert "o4-mini" in csv.text()


def test_csrf_and_sign_out(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    # A form post without the session's token is refused, even with the cookie.
    forged = page.request.post(
        f"{demo.url}/ui/jobs/{demo.jobs['reasoning']}/redeliver", form={"csrf": "nope"}
    )
    assert forged.status == 400
    headers = page.goto(f"{demo.url}/ui/jobs").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    page.click("#sign-out")
    page.wait_for_url("**/ui/login")
    page.goto(f"{demo.url}/ui/jobs")
    assert "/ui/login" in page.url
