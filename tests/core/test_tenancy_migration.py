"""The move of the tenancy models into core keeps the data (core 0002, usage 0004, apps_analytics 0003).

The suite runs with --no-migrations; this test runs the real migrations on a database of its own:
it builds the schema as it was before the move, stores rows through the models of that state, then
migrates to the end and reads them back through the new state (and migrates back again).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from core.models import Client, Organization

BEFORE = [
    ("core", "0001_initial"),
    ("usage", "0003_session_references_checked_by_writers"),
    ("apps_analytics", "0002_drop_redundant_report_fk_indexes"),
]
ALIAS = "tenancy_migration"
ORG_ID, CLIENT_ID = uuid.UUID(int=1), uuid.UUID(int=2)


@pytest.fixture
def own_database(transactional_db):
    """A connection (alias ALIAS) to an empty database beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_tenancy_move"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connections.settings[ALIAS] = {**connection.settings_dict, "NAME": name}
    try:
        # Connected here: the test case only lets already open connections of other aliases through.
        connections[ALIAS].connect()
        with override_settings(MIGRATION_MODULES={}):  # the real migrations, not --no-migrations' stand-in
            yield connections[ALIAS]
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        del connections.settings[ALIAS]
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')


def migrate(db, targets=None):
    executor = MigrationExecutor(db)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return MigrationExecutor(db).loader.project_state(targets).apps


def store_old_rows(apps) -> None:
    def model(label):
        return apps.get_model(label).objects.using(ALIAS)

    login = model("auth.User").create(username="ann")
    organization = model("usage.Organization").create(id=ORG_ID, name="Acme")
    model("usage.OrganizationMembership").create(user=login, organization=organization)
    team = model("usage.Team").create(organization=organization, name="QA")
    host = model("usage.Host").create(hostname="lab-1", country="FR")
    device = model("usage.Device").create(organization=organization, host=host, device_id="d1")
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    model("usage.UsageEvent").create(
        organization=organization, device=device, team=team, start_time=start, end_time=start
    )
    client = model("apps_analytics.Client").create(id=CLIENT_ID, name="Initech", timezone="Europe/Paris")
    model("apps_analytics.ClientGrant").create(user=login, client=client)
    model("apps_analytics.Application").create(client=client, name="Mail")
    for label, name in [("usage", "organization"), ("usage", "organizationmembership"), ("apps_analytics", "client")]:
        model("contenttypes.ContentType").create(app_label=label, model=name)


def test_moving_the_tenancy_models_keeps_every_row(own_database):
    store_old_rows(migrate(own_database, BEFORE))
    content_type_ids = dict(
        own_database.cursor().execute("SELECT model, id FROM django_content_type WHERE app_label <> 'auth'").fetchall()
    )

    apps = migrate(own_database)

    def model(label):
        return apps.get_model(label).objects.using(ALIAS)

    assert list(model("core.Organization").values_list("id", "name")) == [(ORG_ID, "Acme")]
    assert list(model("core.OrganizationMembership").values_list("user__username", "organization__name")) == [
        ("ann", "Acme")
    ]
    assert list(model("core.ClientGrant").values_list("user__username", "client__name")) == [("ann", "Initech")]
    # The apps' foreign keys now lead to the core models, over the same rows.
    assert model("usage.Device").get().organization.name == "Acme"
    assert model("usage.Team").get().organization_id == ORG_ID
    assert model("usage.UsageEvent").get().organization_id == ORG_ID
    assert model("apps_analytics.Application").get().client.timezone == "Europe/Paris"
    assert (
        apps.get_model("usage.Device")._meta.get_field("organization").related_model._meta.label == "core.Organization"
    )
    assert (
        apps.get_model("apps_analytics.Application")._meta.get_field("client").related_model._meta.label
        == "core.Client"
    )
    # The tables kept their names, so the current models read them too.
    assert list(Organization.objects.using(ALIAS).values_list("name", "memberships__user__username")) == [
        ("Acme", "ann")
    ]
    assert Client.objects.using(ALIAS).get().grants.get().user.username == "ann"
    # Content types (permissions, admin history) follow the models, under their old ids.
    moved = own_database.cursor().execute(
        "SELECT model, id, app_label FROM django_content_type WHERE app_label <> 'auth'"
    )
    assert sorted(moved.fetchall()) == [
        ("client", content_type_ids["client"], "core"),
        ("organization", content_type_ids["organization"], "core"),
        ("organizationmembership", content_type_ids["organizationmembership"], "core"),
    ]

    # And back: the old state reads the same rows.
    old = migrate(own_database, BEFORE)
    assert old.get_model("usage.Device").objects.using(ALIAS).get().organization.name == "Acme"
    assert old.get_model("apps_analytics.ClientGrant").objects.using(ALIAS).get().client_id == CLIENT_ID
    labels = own_database.cursor().execute(
        "SELECT DISTINCT app_label FROM django_content_type WHERE app_label <> 'auth'"
    )
    assert sorted(labels.fetchall()) == [("apps_analytics",), ("usage",)]
