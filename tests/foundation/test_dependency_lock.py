"""Every dependency, transitive ones too, is locked with hashes; the locks match the requirements.

scripts/lock writes the locks with pip-tools; scripts/bootstrap and the Dockerfile install only from
them. This checks, without the network, that a change to requirements*.txt was locked again.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = settings.BASE_DIR
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
LOCKS = {"requirements.txt": "requirements.lock", "requirements-dev.txt": "requirements-dev.lock"}
APP_PACKAGES = ("refundtool", "events", "fiscalization", "payments")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file and of the files it includes with -r."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins |= _pins(path.parent / line[3:].strip())
        elif match := PIN.match(line):
            pins[_normal(match[1])] = match[2]
        elif line:
            pytest.fail(f"{path.name}: {line!r} is not name==version")
    return pins


def _locked(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (version, the entry's whole text) of a pip-compile lock."""
    entries: dict[str, tuple[str, str]] = {}
    for block in re.split(r"\n(?=\S)", path.read_text()):
        if match := PIN.match(block):
            entries[_normal(match[1])] = (match[2], block)
    return entries


@pytest.mark.parametrize(("requirements", "lock"), LOCKS.items())
def test_the_lock_holds_exactly_the_pins_of_its_requirements(requirements, lock):
    wanted = _pins(ROOT / requirements)
    locked = _locked(ROOT / lock)
    stale = {name: (version, locked.get(name, ("missing",))[0]) for name, version in wanted.items()}
    stale = {name: versions for name, versions in stale.items() if versions[0] != versions[1]}
    assert not stale, f"{lock} does not match {requirements} (wanted, locked): {stale}; run scripts/lock"
    # A requirement removed from the file must leave the lock too: pip-compile names the direct ones.
    direct = {name for name, (_, block) in locked.items() if re.search(r"#\s+(via )?-r requirements", block)}
    assert direct == set(wanted), f"{lock} was locked from other requirements; run scripts/lock"


@pytest.mark.parametrize("lock", LOCKS.values())
def test_every_locked_package_has_its_hashes(lock):
    locked = _locked(ROOT / lock)
    assert len(locked) > 40
    unhashed = [name for name, (_, block) in locked.items() if "--hash=sha256:" not in block]
    assert not unhashed, f"{lock}: no hashes for {unhashed}"


def test_production_ships_the_versions_the_tests_ran_with():
    production = {name: version for name, (version, _) in _locked(ROOT / "requirements.lock").items()}
    development = {name: version for name, (version, _) in _locked(ROOT / "requirements-dev.lock").items()}
    assert {name: (version, development.get(name)) for name, version in production.items()} == {
        name: (version, version) for name, version in production.items()
    }


def test_installs_come_only_from_the_locks_with_hashes_required():
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in (ROOT / "scripts/bootstrap").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in (ROOT / "Dockerfile").read_text()
    for path in (ROOT / "scripts/bootstrap", ROOT / "scripts/test", ROOT / "scripts/run", ROOT / "Dockerfile"):
        assert not re.search(r"pip install[^\n]*requirements[\w-]*\.txt", path.read_text()), path


def test_jsonschema_is_only_a_test_tool():
    assert "jsonschema" not in _pins(ROOT / "requirements.txt")
    assert "jsonschema" in _pins(ROOT / "requirements-dev.txt")
    importing = [
        str(path.relative_to(ROOT))
        for package in APP_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(import|from)\s+jsonschema\b(?!_rs)", path.read_text(), re.M)
    ]
    assert importing == []
