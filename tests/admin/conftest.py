"""Users of each role and refunds in the states support meets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from refundtool.roles import ACCOUNTANT, SUPPORT, roles_ensure


@pytest.fixture
def roles(db: None) -> None:
    """The groups of the data migration (a transactional test's flush removes them, so make sure)."""
    roles_ensure()


@pytest.fixture
def make_user(roles: None) -> Callable[..., User]:
    def make(username: str, *groups: str, superuser: bool = False) -> User:
        user = User.objects.create_user(username, password="pw", is_staff=True, is_superuser=superuser)
        user.groups.set(Group.objects.filter(name__in=groups))
        return user

    return make


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def support(make_user: Callable[..., User]) -> Client:
    return _client(make_user("support.anna", SUPPORT))


@pytest.fixture
def accountant(make_user: Callable[..., User]) -> Client:
    return _client(make_user("accountant.olga", ACCOUNTANT))


@pytest.fixture
def superuser(make_user: Callable[..., User]) -> Client:
    return _client(make_user("root", superuser=True))
