"""The console's Users page in a real browser against a real `activitylog serve`: an admin adds
a viewer who then signs in, changes that user's role and resets its password (each signing out
the user's open session at its next click), and removes it; an error keeps what was typed; an
operator sees no Users link and is refused the page; axe-core, and 375 px without sideways
scrolling."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import RunningServer
from tests.e2e.console.conftest import (
    ADMIN,
    OPERATOR,
    assert_accessible,
    nav_link,
    sign_in,
)

pytestmark = pytest.mark.e2e

NEWCOMER = ("nina@example.com", "ninaPassword")
RESET_PASSWORD = "ninaResetPassword"


@pytest.fixture
def other_page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A second browser, with cookies of its own: the changed user's."""
    context = browser.new_context(base_url=server.url)
    yield context.new_page()
    context.close()


def open_users_page(page: Page) -> None:
    sign_in(page, ADMIN)
    nav_link(page, "Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()


def expect_signed_out_at_next_click(page: Page) -> None:
    page.get_by_role("link", name="Activity", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))


def test_an_admin_adds_changes_resets_and_removes_a_user(page: Page, other_page: Page) -> None:
    name, password = NEWCOMER
    open_users_page(page)
    assert_accessible(page)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_have_text(f"Added {name}; they can sign in now.")
    expect(page.get_by_role("combobox", name=f"Role of {name}")).to_have_value("viewer")

    sign_in(other_page, NEWCOMER)  # the new viewer signs in
    expect(other_page.get_by_role("link", name="Users")).to_have_count(0)

    page.get_by_role("combobox", name=f"Role of {name}").select_option("operator")
    page.get_by_role("button", name=f"Change role of {name}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Changed the role of {name}")
    expect(page.get_by_role("combobox", name=f"Role of {name}")).to_have_value("operator")
    expect_signed_out_at_next_click(other_page)

    sign_in(other_page, NEWCOMER)
    page.get_by_role("textbox", name=f"New password for {name}").fill(RESET_PASSWORD)
    page.get_by_role("button", name=f"Reset password of {name}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Reset the password of {name}")
    expect_signed_out_at_next_click(other_page)
    sign_in(other_page, (name, RESET_PASSWORD))  # the new password works

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Remove {name}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Removed {name}")
    expect(page.get_by_role("rowheader", name=name)).to_have_count(0)
    expect_signed_out_at_next_click(other_page)


def test_a_refused_change_says_why_and_what_next_and_keeps_what_was_typed(page: Page) -> None:
    open_users_page(page)
    page.get_by_label("Name").fill("weak@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Role", exact=True).select_option("operator")
    page.get_by_role("button", name="Add user").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Adding weak@example.com did not work.")
    expect(alert).to_contain_text("password: expected a string of at least 8 characters")
    expect(alert).to_contain_text("try again")
    expect(page.get_by_label("Name")).to_have_value("weak@example.com")
    expect(page.get_by_label("Role", exact=True)).to_have_value("operator")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert_accessible(page)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Remove {ADMIN[0]}").click()  # the domain's only admin
    expect(page.get_by_role("alert")).to_contain_text("is the last admin of identity domain")
    expect(page.get_by_role("rowheader", name=ADMIN[0])).to_be_visible()


def test_an_operator_sees_no_users_link_and_is_refused_the_page(page: Page) -> None:
    sign_in(page, OPERATOR)
    expect(page.get_by_role("link", name="Activity", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    answer = page.goto("/console/users")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_role("alert")).to_contain_text("The Users page needs the admin role")
    expect(page.get_by_role("link", name="Back to Activity")).to_be_visible()
    assert_accessible(page)


def test_the_users_page_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    open_users_page(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    expect(page.get_by_role("button", name=f"Change role of {OPERATOR[0]}")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name").fill("x" * 200)  # a long name in the refused form's message
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
