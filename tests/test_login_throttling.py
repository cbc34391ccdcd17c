"""Login throttling (issue 8, django-axes): after 5 failed logins per user name or per
address the login is refused -- the right password too -- with a German message on the
login page (HTTP 429); the certification office unlocks, and that is logged.

Real logins through the login form (``client.post``), not ``force_login``, which
bypasses authentication and so the throttling.
"""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from centres.lockouts import login_lockout_list
from centres.models import LogEntry
from qiportal.login import client_ip_address

PASSWORD = "pw-test-12345"
LOCKED_DE = "Zu viele fehlgeschlagene Anmeldeversuche"
LOCKED_EN = "Too many failed login attempts"


def login(client: Client, username: str, password: str, addr: str = "127.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=addr)


def logged_in_as(client: Client):
    return client.session.get("_auth_user_id")


def fail(client: Client, username: str, times: int, addr: str = "127.0.0.1") -> list[int]:
    return [login(client, username, f"wrong-{i}", addr).status_code for i in range(times)]


def assert_locked_page(response, text: str = LOCKED_DE) -> None:
    assert response.status_code == 429
    body = response.content.decode()
    assert 'data-code="login_locked"' in body and 'role="alert"' in body
    assert text in body
    assert "15" in body  # the cool-off in minutes
    assert 'name="password"' in body and 'action="/login/"' in body  # the login page, not a bare error


def test_limit_and_cooloff_are_the_documented_defaults(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_four_failures_do_not_lock(client, coordinator):
    assert fail(client, "coord_a", 4) == [200] * 4
    response = login(client, "coord_a", PASSWORD)
    assert response.status_code == 302 and logged_in_as(client) == str(coordinator.pk)


def test_five_wrong_passwords_lock_out_the_user_name(client, coordinator):
    codes = fail(client, "coord_a", 5)
    assert codes == [200, 200, 200, 200, 429]  # the fifth failure already answers the lock-out
    response = login(client, "coord_a", PASSWORD)
    assert_locked_page(response)
    assert logged_in_as(client) is None
    assert client.get(reverse("home")).status_code == 302  # still anonymous
    # per user name: another address does not help
    assert_locked_page(login(Client(), "coord_a", PASSWORD, addr="10.9.9.9"))
    # the user name is kept in the form
    assert 'value="coord_a"' in response.content.decode()
    # failures during the lock-out are not counted
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == 5


def test_five_failures_from_one_address_lock_out_that_address(client, coordinator):
    for name in ("alice", "bob", "carol", "dave", "eve"):  # one failure each: spraying
        login(client, name, "guess", addr="10.1.1.1")
    assert_locked_page(login(client, "coord_a", PASSWORD, addr="10.1.1.1"))
    assert logged_in_as(client) is None
    other = Client()
    assert login(other, "coord_a", PASSWORD, addr="10.2.2.2").status_code == 302
    assert logged_in_as(other) == str(coordinator.pk)


def test_lockout_ends_after_the_cooloff(client, coordinator):
    fail(client, "coord_a", 5)
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15, seconds=1))
    assert login(client, "coord_a", PASSWORD).status_code == 302


def test_lockout_message_in_english(client, coordinator):
    client.cookies["django_language"] = "en"
    fail(client, "coord_a", 5)
    assert_locked_page(login(client, "coord_a", PASSWORD), LOCKED_EN)


def test_limit_follows_the_setting(client, coordinator, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert fail(client, "coord_a", 2) == [200, 429]


# ------------------------------------------------------------------ office unlock


def office_client(office) -> Client:
    c = Client()
    c.force_login(office)
    return c


def test_office_sees_and_unlocks_a_user_name(client, coordinator, office):
    fail(client, "coord_a", 5, addr="10.3.3.3")
    staff = office_client(office)
    page = staff.get(reverse("login_lockout_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-kind="username" data-value="coord_a"' in html
    assert 'data-kind="ip_address" data-value="10.3.3.3"' in html  # the address reached 5 too
    [user_lock] = [x for x in page.context["lockouts"] if x.kind == "username"]
    assert (user_lock.value, user_lock.addresses, user_lock.failures) == ("coord_a", ("10.3.3.3",), 5)
    assert user_lock.until - user_lock.since == dt.timedelta(minutes=15)
    assert "Entsperren" in html and 'name="csrfmiddlewaretoken"' in html

    response = staff.post(reverse("login_lockout_reset"), {"kind": "username", "value": "coord_a"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("login_lockout_list")
    assert "Entsperrt" in response.content.decode() and "coord_a" in response.content.decode()
    assert login_lockout_list() == []  # the address lock-out went with the user name's attempts
    assert AccessAttempt.objects.count() == 0

    entry = LogEntry.objects.get(action="centres.login_lockout.reset")
    assert entry.actor == office
    assert entry.data["kind"] == "username" and entry.data["value"] == "coord_a"
    assert entry.data["addresses"] == ["10.3.3.3"] and entry.data["failures"] == 5
    assert entry.data["attempts_deleted"] == 1
    assert entry.content_type.app_label == "axes"

    response = login(client, "coord_a", PASSWORD, addr="10.3.3.3")
    assert response.status_code == 302 and logged_in_as(client) == str(coordinator.pk)


def test_office_unlocks_an_address(client, coordinator, office):
    for name in ("alice", "bob", "carol", "dave", "eve"):
        login(client, name, "guess", addr="10.4.4.4")
    staff = office_client(office)
    [lock] = staff.get(reverse("login_lockout_list")).context["lockouts"]
    assert (lock.kind, lock.value, lock.failures) == ("ip_address", "10.4.4.4", 5)
    assert lock.usernames == ("alice", "bob", "carol", "dave", "eve")
    staff.post(reverse("login_lockout_reset"), {"kind": "ip_address", "value": "10.4.4.4"})
    entry = LogEntry.objects.get(action="centres.login_lockout.reset")
    assert (entry.data["kind"], entry.data["value"], entry.data["attempts_deleted"]) == ("ip_address", "10.4.4.4", 5)
    assert login(client, "coord_a", PASSWORD, addr="10.4.4.4").status_code == 302


def test_unlock_of_what_is_not_locked_changes_nothing(client, coordinator, office):
    fail(client, "coord_a", 3)
    staff = office_client(office)
    response = staff.post(reverse("login_lockout_reset"), {"kind": "username", "value": "coord_a"}, follow=True)
    assert 'data-code="not_locked"' in response.content.decode()
    assert AccessAttempt.objects.count() == 1
    assert not LogEntry.objects.filter(action="centres.login_lockout.reset").exists()
    response = staff.post(reverse("login_lockout_reset"), {"kind": "bogus", "value": "coord_a"}, follow=True)
    assert 'data-code="not_locked"' in response.content.decode()


@pytest.mark.parametrize("role", ["coordinator", "auditor", "commission"])
def test_other_roles_cannot_open_or_use_the_unlock_page(role, client, request, office):
    user = request.getfixturevalue(role)
    fail(Client(), "coord_x", 5)
    client.force_login(user)
    assert client.get(reverse("login_lockout_list")).status_code == 403
    assert client.post(reverse("login_lockout_reset"), {"kind": "username", "value": "coord_x"}).status_code == 403
    assert len(login_lockout_list()) == 2  # user name and address still locked
    assert not LogEntry.objects.filter(action="centres.login_lockout.reset").exists()
    home = client.get(reverse("home")).content.decode()
    assert reverse("login_lockout_list") not in home


def test_office_navigation_links_the_unlock_page(office):
    home = office_client(office).get(reverse("home")).content.decode()
    assert f'href="{reverse("login_lockout_list")}"' in home and "Anmeldesperren" in home


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("login_lockout_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_empty_list_says_so(office):
    html = office_client(office).get(reverse("login_lockout_list")).content.decode()
    assert "Zurzeit ist keine Anmeldung gesperrt." in html


def _lock_addresses(n: int, start: int = 0) -> None:
    now = dt.datetime.now(dt.UTC)
    AccessAttempt.objects.bulk_create(
        AccessAttempt(
            username=f"user{i}",
            ip_address=f"10.5.{i // 200}.{i % 200}",
            user_agent="pytest",
            failures_since_start=5,
            attempt_time=now,
            get_data="",
            post_data="",
            http_accept="*/*",
            path_info="/login/",
        )
        for i in range(start, start + n)
    )


def test_lockout_list_query_count_is_constant(office, django_assert_num_queries):
    staff = office_client(office)
    url = reverse("login_lockout_list")
    _lock_addresses(1)
    staff.get(url)  # warm-up
    with django_assert_num_queries(4) as first:  # session, user, memberships, attempts
        assert staff.get(url).status_code == 200
    _lock_addresses(50, start=1)
    with django_assert_num_queries(len(first)):
        response = staff.get(url)
    assert len(response.context["lockouts"]) == 2 * 51


# ------------------------------------------------------------------ the client address


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "192.0.2.1"),  # no proxy configured: the header is ignored
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a forged entry stands left
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "192.0.2.1"),  # fewer entries than proxies
        (1, "", "192.0.2.1"),
    ],
)
def test_client_ip_address_behind_proxies(proxies, forwarded, expected, rf, settings):
    settings.QIPORTAL_PROXY_COUNT = proxies
    request = rf.post("/login/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip_address(request) == expected
