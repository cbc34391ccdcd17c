"""The daily digest mail (issue 9): contents per role computed by hand, one mail per
person and day, opt-out, scope, the settings page, the Celery beat entry.

The scenario: events older than the first digest's 24 hours ("before") and recent ones
("now"), at site_a (coordinator, auditor_a with audits for indicator years 2019–2026)
and site_b (coordinator_b). The digest's day is DAY; due dates are set around it.
"""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from centres.models import LogEntry, NotificationSetting
from centres.services import notification_setting_set
from indicators.choices import DeviationState, ReasonCode
from indicators.digest import SENT_ACTION, digest_build, digests_send
from indicators.models import IndicatorDefinition
from indicators.services import (
    deviation_decide,
    deviation_justify,
    deviation_resolve,
    deviation_respond,
    deviation_sync,
)

DAY = dt.date(2023, 6, 1)
YEAR = 2022  # decided by auditor_a's audit of 2023


def _dev(site, code, flags=("target_not_met",), year=YEAR):
    definition = IndicatorDefinition.objects.get(version_id="KJ2022", code=code)
    active = deviation_sync(
        site=site, indicator_year=year, definition=definition, flags=list(flags), numerator=1, denominator=40
    )
    return active[0] if active else None


def _nonconformity(dev, user, due, comment="", action="Maßnahme"):
    return deviation_decide(
        deviation=dev,
        decision=DeviationState.NONCONFORMITY,
        comment=comment,
        due_date=due,
        corrective_action=action,
        acting_user=user,
    )


@pytest.fixture
def scenario(catalogue, site_a, site_b, coordinator, coordinator_b, auditor, office, commission):
    """Build the events; returns a dict name -> deviation (see the module docstring)."""
    d = {}
    # -- before: more than 24 h ago (not news for a first digest)
    for name, code in [("dev1", "1a"), ("dev2", "1b"), ("dev3", "2"), ("dev4", "2a"), ("dev5", "3")]:
        d[name] = _dev(site_a, code)
    for name, code in [("dev6", "4"), ("dev7", "5"), ("dev9", "6a"), ("dev10", "9")]:
        d[name] = _dev(site_a, code)
    d["old_year"] = _dev(site_a, "7", year=2018)  # before the auditor's audits (view only)
    d["b_old"] = _dev(site_b, "1a")
    deviation_justify(deviation=d["dev2"], text="Kleine Fallzahl", acting_user=coordinator)
    _nonconformity(d["dev3"], auditor, DAY - dt.timedelta(days=1), comment="alt")
    _nonconformity(d["dev4"], auditor, DAY + dt.timedelta(days=15))
    _nonconformity(d["dev7"], auditor, DAY + dt.timedelta(days=30))
    _nonconformity(d["dev9"], auditor, DAY)
    _nonconformity(d["dev10"], auditor, DAY + dt.timedelta(days=5))
    _dev(site_a, "1a", flags=())  # dev1 closed by a corrected upload
    LogEntry.objects.update(created_at=timezone.now() - dt.timedelta(hours=48))
    # -- now
    d["dev1"] = _dev(site_a, "1a")  # flagged again (reopened)
    d["dev8"] = _dev(site_a, "6b")  # a new flag
    _nonconformity(
        d["dev2"], auditor, DAY + dt.timedelta(days=14), comment="Bitte <b>Protokolle</b> prüfen", action="Schulung"
    )
    deviation_justify(deviation=d["dev5"], text="Erklärt", acting_user=coordinator)  # then decided
    deviation_decide(
        deviation=d["dev5"], decision=DeviationState.ACCEPTED, comment="Plausibel erklärt", acting_user=auditor
    )
    deviation_justify(
        deviation=d["dev6"], text="Nur drei Fälle", reason_code=ReasonCode.SMALL_NUMBERS, acting_user=coordinator
    )
    deviation_respond(deviation=d["dev7"], text="Protokolle nachgereicht", acting_user=coordinator)
    deviation_respond(deviation=d["dev10"], text="Erledigt", acting_user=coordinator)  # then resolved
    deviation_resolve(deviation=d["dev10"], acting_user=auditor)
    deviation_justify(deviation=d["old_year"], text="Altes Jahr", acting_user=coordinator)
    d["b_new"] = _dev(site_b, "2")
    deviation_justify(deviation=d["b_new"], text="Standort B", acting_user=coordinator_b)
    _nonconformity(d["b_old"], office, DAY - dt.timedelta(days=3), comment="Standort B Kommentar")
    return d


def _ids(digest, key, d):
    names = {dev.pk: name for name, dev in d.items()}
    return [names[pk] for pk in digest.deviation_ids(key)]


def test_coordinator_gets_new_flags_decisions_due_and_overdue_of_their_sites_only(scenario, coordinator):
    digest = digest_build(user=coordinator, day=DAY)
    assert [s.key for s in digest.sections] == ["new_flags", "decisions", "due_soon", "overdue"]
    assert _ids(digest, "new_flags", scenario) == ["dev1", "dev8"]
    assert digest.section("new_flags").items[0].details == ("erneut markiert",)
    assert _ids(digest, "decisions", scenario) == ["dev2", "dev5", "dev10"]
    nonconformity, accepted, resolved = digest.section("decisions").items
    assert nonconformity.details == (
        "Entscheidung: Abweichung (auditor_a)",
        "Kommentar: Bitte <b>Protokolle</b> prüfen",
        "Korrekturmaßnahme: Schulung",
        "Frist: 15.06.2023",
    )
    assert accepted.details == ("Entscheidung: akzeptiert (auditor_a)", "Kommentar: Plausibel erklärt")
    assert resolved.details == ("Entscheidung: erledigt (auditor_a)",)
    # due today and in 14 days; 15 and 30 days are not yet due; one day past is overdue
    assert _ids(digest, "due_soon", scenario) == ["dev9", "dev2"]
    assert _ids(digest, "overdue", scenario) == ["dev3"]
    assert digest.item_count == 8
    text = digest.as_text()
    assert "KHT-B01" not in text and "Standort B" not in text
    assert "KHT-A01 Uniklinikum Aachen, Kennzahlenjahr 2022, KeZa 1b: Sollvorgabe nicht erfüllt" in text


def test_the_other_coordinator_gets_only_their_site(scenario, coordinator_b):
    digest = digest_build(user=coordinator_b, day=DAY)
    assert [s.key for s in digest.sections] == ["new_flags", "decisions", "overdue"]
    assert _ids(digest, "new_flags", scenario) == ["b_new"]
    assert _ids(digest, "decisions", scenario) == ["b_old"]
    assert _ids(digest, "overdue", scenario) == ["b_old"]
    assert "KHT-A01" not in digest.as_text()


def test_auditor_gets_justifications_and_answers_awaiting_them_for_their_audits_only(scenario, auditor):
    digest = digest_build(user=auditor, day=DAY)
    # dev2 was justified before and is decided, dev5 justified and decided since, dev10
    # answered and resolved since; old_year (2018) lies before the audits
    # (view only, not decided by them); b_new belongs to another centre's site.
    assert [s.key for s in digest.sections] == ["justified", "answered"]
    assert _ids(digest, "justified", scenario) == ["dev6"]
    assert digest.section("justified").items[0].details == (
        "Begründet von coord_a",
        "Grund: kleine Fallzahlen",
        "Begründung: Nur drei Fälle",
    )
    assert _ids(digest, "answered", scenario) == ["dev7"]
    assert digest.section("answered").items[0].details == (
        "Beantwortet von coord_a",
        "Stellungnahme: Protokolle nachgereicht",
    )


def test_national_roles_and_a_site_bound_auditor_without_audit_get_nothing(scenario, office, commission):
    from centres.models import Role
    from tests.factories import MembershipFactory, UserFactory

    lonely = UserFactory(username="auditor_without_audit")
    MembershipFactory(user=lonely, site=scenario["dev1"].site, role=Role.AUDITOR)
    for user in (office, commission, lonely):
        assert digest_build(user=user, day=DAY) is None


def test_one_mail_per_person_once_a_day_in_german_with_absolute_links(scenario, mailoutbox, settings, coordinator):
    settings.QIPORTAL_BASE_URL = "https://qi.example.org/"
    assert digests_send(day=DAY) == 3
    assert sorted(m.to[0] for m in mailoutbox) == [
        "auditor_a@example.org",
        "coord_a@example.org",
        "coord_b@example.org",
    ]
    mail = next(m for m in mailoutbox if m.to == ["coord_a@example.org"])
    assert mail.subject == "QI-Portal: Ihre tägliche Zusammenfassung vom 01.06.2023"
    assert f"https://qi.example.org/indicators/deviations/{scenario['dev2'].pk}/" in mail.body
    assert "https://qi.example.org/account/notifications/" in mail.body
    assert "Neue Auffälligkeiten (2)" in mail.body and "Überfällige Abweichungen (1)" in mail.body
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert "Bitte &lt;b&gt;Protokolle&lt;/b&gt; prüfen" in html and "<b>Protokolle" not in html
    # the same day again: nothing more
    assert digests_send(day=DAY) == 0
    assert len(mailoutbox) == 3
    sent = LogEntry.objects.filter(action=SENT_ACTION, object_id=coordinator.pk)
    assert [e.data["day"] for e in sent] == ["2023-06-01"]
    assert sent[0].data["items"] == {"new_flags": 2, "decisions": 3, "due_soon": 2, "overdue": 1}


def test_the_next_digest_tells_only_what_happened_since_the_last_one(scenario, mailoutbox, coordinator, auditor):
    digests_send(day=DAY)
    next_day = DAY + dt.timedelta(days=1)
    # nothing new for the auditor: no mail; the coordinator still has due dates, as of
    # the next day: dev9 (due DAY) is overdue now, dev4 (DAY + 15) is within 14 days.
    assert digest_build(user=auditor, day=next_day) is None
    digest = digest_build(user=coordinator, day=next_day)
    assert [s.key for s in digest.sections] == ["due_soon", "overdue"]
    assert _ids(digest, "due_soon", scenario) == ["dev2", "dev4"]
    assert _ids(digest, "overdue", scenario) == ["dev3", "dev9"]
    # a new justification after the first digest reaches the auditor the next day
    dev = _dev(scenario["dev1"].site, "8")
    deviation_justify(deviation=dev, text="Neu", acting_user=coordinator)
    mailoutbox.clear()
    assert digests_send(day=next_day) == 3  # coord_a (due dates), coord_b (overdue), auditor
    auditor_mail = next(m for m in mailoutbox if m.to == ["auditor_a@example.org"])
    assert "KeZa 8" in auditor_mail.body and "KeZa 4" not in auditor_mail.body


def test_a_first_digest_covers_24_hours(catalogue, site_a, coordinator, auditor):
    dev = _dev(site_a, "1a")
    deviation_justify(deviation=dev, text="Begründung", acting_user=coordinator)
    entry = LogEntry.objects.get(action="indicators.deviation.justified", object_id=dev.pk)
    LogEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - dt.timedelta(hours=23, minutes=59))
    assert digest_build(user=auditor, day=DAY).deviation_ids("justified") == [dev.pk]
    LogEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - dt.timedelta(hours=24, minutes=1))
    assert digest_build(user=auditor, day=DAY) is None


def test_opted_out_users_and_users_without_address_get_no_mail(
    scenario, mailoutbox, coordinator, coordinator_b, auditor
):
    notification_setting_set(user=coordinator, digest_enabled=False)
    auditor.email = ""
    auditor.save()
    assert digests_send(day=DAY) == 1
    assert [m.to for m in mailoutbox] == [["coord_b@example.org"]]
    # switched on again, the coordinator gets the day's digest on the next run
    notification_setting_set(user=coordinator, digest_enabled=True)
    assert digests_send(day=DAY) == 1
    assert [m.to for m in mailoutbox] == [["coord_b@example.org"], ["coord_a@example.org"]]


def test_a_failing_mail_records_nothing_and_does_not_stop_the_others(scenario, mailoutbox, monkeypatch, coordinator):
    from django.core.mail import EmailMultiAlternatives

    original = EmailMultiAlternatives.send

    def send(self, *args, **kwargs):
        if self.to == ["coord_a@example.org"]:
            raise OSError("SMTP down")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send)
    assert digests_send(day=DAY) == 2
    assert not LogEntry.objects.filter(action=SENT_ACTION, object_id=coordinator.pk).exists()
    monkeypatch.setattr(EmailMultiAlternatives, "send", original)
    assert digests_send(day=DAY) == 1  # the retry sends the missing one only
    assert [m.to for m in mailoutbox][-1] == ["coord_a@example.org"]


def test_task_and_command_send_the_digests(scenario, mailoutbox):
    from indicators.tasks import digests_send_task

    assert digests_send_task.delay(DAY.isoformat()).get() == 3
    out = []

    class Out:
        def write(self, text):
            out.append(text)

    # the next day: the coordinators' due dates; nothing new for the auditor
    call_command("send_digests", "--day", "2023-06-02", stdout=Out())
    assert "2 digest(s) sent for 2023-06-02" in "".join(out)
    assert len(mailoutbox) == 5
    with pytest.raises(CommandError):
        call_command("send_digests", "--day", "1.6.2023")


def test_beat_runs_the_registered_digest_task_at_six_berlin_time(settings, db):
    from qiportal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["digests-daily"]
    app.loader.import_default_modules()
    assert entry["task"] == "indicators.tasks.digests_send_task"
    assert entry["task"] in app.tasks
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({6}, {0})
    assert settings.TIME_ZONE == "Europe/Berlin"
    assert app.conf.timezone == "Europe/Berlin"


def test_mail_is_printed_by_default_and_sent_by_smtp_when_email_host_is_set(monkeypatch, tmp_path):
    import runpy

    from django.conf import settings

    path = str(settings.BASE_DIR / "qiportal" / "settings.py")
    monkeypatch.setenv("QIPORTAL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EMAIL_HOST", raising=False)
    assert runpy.run_path(path)["MAILERS"] == {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    for key, value in {
        "EMAIL_HOST": "smtp.example.org",
        "EMAIL_PORT": "2525",
        "EMAIL_HOST_USER": "portal",
        "EMAIL_HOST_PASSWORD": "secret",
        "EMAIL_USE_TLS": "0",
        "DEFAULT_FROM_EMAIL": "qi@example.org",
    }.items():
        monkeypatch.setenv(key, value)
    loaded = runpy.run_path(path)
    assert loaded["MAILERS"] == {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": "smtp.example.org",
                "port": 2525,
                "username": "portal",
                "password": "secret",
                "use_tls": False,
                "timeout": 30,
            },
        }
    }
    assert loaded["DEFAULT_FROM_EMAIL"] == "qi@example.org"
    monkeypatch.delenv("EMAIL_USE_TLS")
    assert runpy.run_path(path)["MAILERS"]["default"]["OPTIONS"]["use_tls"] is True


# ------------------------------------------------------------------ the settings page


URL = "/account/notifications/"


def _csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.get(URL)
    return client, response, response.cookies["csrftoken"].value


@pytest.mark.parametrize("role", ["coordinator", "coordinator_b", "auditor", "commission", "office"])
def test_every_role_switches_their_own_digest_off_and_on(role, request):
    user = request.getfixturevalue(role)
    assert reverse("notification_settings") == URL
    client, response, token = _csrf_client(user)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-digest="on"' in html and 'name="digest_enabled"' in html and "checked" in html
    assert f"{user.email}" in html
    response = client.post(URL, {"csrfmiddlewaretoken": token}, follow=True)  # unchecked box: off
    assert response.status_code == 200
    assert "Die tägliche Zusammenfassung ist ausgeschaltet." in response.content.decode()
    assert NotificationSetting.objects.get(user=user).digest_enabled is False
    entry = LogEntry.objects.get(
        action="centres.notification.digest_set",
        content_type=ContentType.objects.get_for_model(NotificationSetting),
    )
    assert (entry.actor, entry.data) == (user, {"from": True, "to": False})
    response = client.post(URL, {"csrfmiddlewaretoken": token, "digest_enabled": "on"})
    assert response.status_code == 302 and response["Location"] == URL
    assert NotificationSetting.objects.get(user=user).digest_enabled is True
    assert NotificationSetting.objects.count() == 1  # only their own


def test_settings_page_refuses_a_post_without_csrf_token_and_anonymous_users(coordinator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    assert client.post(URL, {"digest_enabled": ""}).status_code == 403
    assert not NotificationSetting.objects.exists()
    anonymous = Client()
    response = anonymous.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert anonymous.post(URL, {}).status_code == 302
    assert not NotificationSetting.objects.exists()


def test_user_menu_links_to_the_settings_page(client, coordinator):
    client.force_login(coordinator)
    assert f'href="{URL}"' in client.get(reverse("home")).content.decode()


def test_page_says_when_no_address_is_stored(client, coordinator):
    coordinator.email = ""
    coordinator.save()
    client.force_login(coordinator)
    assert "keine E-Mail-Adresse" in client.get(URL).content.decode()
