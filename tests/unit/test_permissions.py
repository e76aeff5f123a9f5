import pytest

from qms.auth.permissions import ROLE_PERMISSIONS, Permission, Role, permissions_for


def test_every_role_has_a_permission_set():
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize("role", list(Role))
def test_everyone_can_read_effective_documents(role):
    assert Permission.READ_DOCUMENTS in ROLE_PERMISSIONS[role]


def test_only_administrators_manage_users():
    holders = {r for r, perms in ROLE_PERMISSIONS.items() if Permission.MANAGE_USERS in perms}
    assert holders == {Role.ADMIN}


def test_staff_cannot_see_drafts_or_trail():
    staff = ROLE_PERMISSIONS[Role.STAFF]
    assert Permission.VIEW_REGISTER not in staff
    assert Permission.VIEW_TRAIL not in staff
    assert Permission.APPROVE_DOCUMENTS not in staff


def test_permissions_of_several_roles_are_the_union():
    combined = permissions_for([Role.STAFF, Role.APPROVER])
    assert combined == ROLE_PERMISSIONS[Role.STAFF] | ROLE_PERMISSIONS[Role.APPROVER]
