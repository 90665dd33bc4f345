"""The finder page ranks (issue 19, item 6), in headless Chromium against a real engine and the simulator:
the exact name first, then names that start with the search, then a word of a name that does, then the
search inside a name; ties in number order; what matched is marked; with the box empty, favourites and
recent roles come first; the star is a control of its own."""

from __future__ import annotations

import json

import pytest

from conftest import sim_accounts
from test_finder import chromium, login_cookie, open_page, request, roles_of, sign_in_to, wait_js, wait_until  # noqa: F401
from tray.core.engine.engine import Engine
from tray.ui import finder

NAMES = ["prod-151", "prod-251", "prod-51", "prod-5", "network-17", "network-7", "network-2", "prod-510",
         "preprod-51", "staging-prod-51", "shared-services"]


@pytest.fixture
def ranked_page(sso_env, home, chromium):
    sso_env.options.account_names = NAMES
    sso_env.options.accounts = len(NAMES)
    sso_env.options.roles_per_account = 1
    sign_in_to()
    (home / ".config" / "sso-tray").mkdir(parents=True)
    (home / ".config" / "sso-tray" / "settings.json").write_text(json.dumps({"clear_clipboard_after": 0}), encoding="utf-8")
    engine = Engine()
    engine.start()
    wait_until(lambda: len(roles_of(engine)) == len(NAMES) and all(r.account_name != r.account_id for r in roles_of(engine)),
               30, "the discovered accounts")
    server = finder.start(engine)
    page = open_page(chromium, server.ticket_url(), height=900)
    wait_js(page, f"document.querySelectorAll('#roles li').length === {len(NAMES)}")
    yield engine, server, page
    finder.stop(server)
    engine.stop()


def accounts_shown(page) -> list[str]:
    return page.eval_on_selector_all("#roles li", "rows => rows.map(r => r.querySelector('.account').textContent)")


def search(page, text: str) -> list[str]:
    page.fill("#search", text)
    wait_js(page, f"document.getElementById('search').value === {json.dumps(text)}")
    return accounts_shown(page)


@pytest.mark.browser
def test_exact_then_prefix_then_word_start_then_inside_in_number_order(ranked_page):
    _engine, _server, page = ranked_page
    # the empty box: every role in number order (network-2, -7, -17; prod-5, -51, -151 …)
    assert search(page, "") == ["network-2", "network-7", "network-17", "preprod-51", "prod-5", "prod-51", "prod-151",
                                "prod-251", "prod-510", "shared-services", "staging-prod-51"]
    # "prod 51": prod-51 (both words start a word) before prod-151 and prod-251, where 51 is only inside
    assert search(page, "prod 51") == ["prod-51", "prod-510", "staging-prod-51", "prod-151", "prod-251", "preprod-51"]
    # the exact name first; then names that start with it; then those where it starts a word; then inside one
    assert search(page, "prod-51") == ["prod-51", "prod-510", "staging-prod-51", "preprod-51"]
    assert search(page, "PROD-5") == ["prod-5", "prod-51", "prod-510", "staging-prod-51", "preprod-51"]
    # what matched is marked, in every name it matched in
    assert page.eval_on_selector_all("#roles li:first-child mark", "m => m.map(x => x.textContent)") == ["prod-5"]
    search(page, "net 7")
    marks = page.eval_on_selector_all("#roles li:first-child .account mark", "m => m.map(x => x.textContent)")
    assert accounts_shown(page)[:2] == ["network-7", "network-17"] and marks == ["net", "7"]
    assert page.errors == []


@pytest.mark.browser
def test_favourites_then_recent_first_while_the_box_is_empty_and_the_star_is_its_own_control(ranked_page, sso_env):
    engine, server, page = ranked_page
    by_name = {r.account_name: r for r in roles_of(engine)}
    cookie = login_cookie(server)
    for name in ("staging-prod-51", "network-17"):  # written, so recent: the latest first
        status, _h, body = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin,
                                   body={"action": "write", "profile": by_name[name].profile})
        assert status == 200, body
    wait_until(lambda: len(engine.state.recent) == 2, 30, "two recent roles")
    page.reload()
    wait_js(page, "document.querySelectorAll('#roles li').length === 11")
    assert accounts_shown(page)[:3] == ["network-17", "staging-prod-51", "network-2"]
    # a click on a row's star makes it a favourite: it comes before the recent ones
    page.locator("#roles li", has_text="shared-services").locator(".star").click()
    wait_until(lambda: by_name["shared-services"].profile in engine.state.favourite_names, 30, "the favourite")
    wait_js(page, "document.querySelector('#roles li .account').textContent === 'shared-services'", 30)
    assert accounts_shown(page)[:3] == ["shared-services", "network-17", "staging-prod-51"]
    star = page.locator("#roles li").nth(0).locator(".star")
    assert star.get_attribute("aria-pressed") == "true" and star.inner_text() == "★"
    assert page.inner_text("#roles li:nth-child(1) .marks") == ""  # a favourite is not "kept fresh"
    # typing ranks by the search alone
    assert search(page, "network")[:3] == ["network-2", "network-7", "network-17"]
    assert page.errors == []
