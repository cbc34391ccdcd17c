"""Error pages keep the portal's navigation (issue 9, also-fix): a 403 for a page type
the role may not open, a 404 for an object out of scope."""

from django.urls import reverse


def test_a_403_page_keeps_the_navigation(coordinator, client):
    client.force_login(coordinator)
    response = client.get(reverse("login_lockout_list"))  # office only
    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="main-nav"' in page and f'href="{reverse("datasheets:revision_list")}"' in page
    assert "<h1>Zugriff verweigert</h1>" in page
    assert f'href="{reverse("login_lockout_list")}"' not in page  # the nav is the coordinator's


def test_a_404_page_keeps_the_navigation(coordinator, site_b, client):
    client.force_login(coordinator)
    response = client.get(reverse("centres:site_detail", args=[site_b.pk]))  # another centre's site
    assert response.status_code == 404
    assert 'class="main-nav"' in response.content.decode()
