"""Staff accounts: Django's password validators, and admin logins locked out after repeated failures."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
LOGIN = reverse("admin:login")


@pytest.mark.parametrize("password", ["admin", "password123", "12345678901234", "short-Pw1"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_uncommon_password_is_accepted():
    validate_password("quokka-ledger-refund-42")


def test_the_admin_password_form_applies_the_validators(superuser, make_user):
    user = make_user("support.boris")
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = superuser.post(url, {"password1": "password123", "password2": "password123"})
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors


def _login(client: Client, password: str, address: str = "10.0.0.1"):
    return client.post(
        LOGIN, {"username": "support.anna", "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def test_admin_login_is_locked_out_after_repeated_failures(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user("support.anna")
    user.set_password("quokka-ledger-refund-42")
    user.save()
    client = Client()
    assert [_login(client, "wrong").status_code for _ in range(2)] == [200, 200]  # the form again
    locked = _login(client, "wrong")
    assert locked.status_code == 429
    # Locked out: even the right password is refused from that address for the cool-off time.
    right = _login(client, "quokka-ledger-refund-42")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not locked out (the pair, username and address, is).
    elsewhere = Client()
    assert _login(elsewhere, "quokka-ledger-refund-42", address="10.0.0.2").status_code == 302
    assert "_auth_user_id" in elsewhere.session
