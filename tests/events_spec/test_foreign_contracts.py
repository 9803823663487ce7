"""The Go and PHP types pass their own tests on the shared vectors, and a type change reaches them."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from events.contracts.generation import CONTRACTS_DIR

GO = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
PHP = shutil.which("php")


def _go_test(go_dir: Path) -> subprocess.CompletedProcess[str]:
    assert GO, "go is not installed"
    return subprocess.run(
        [GO, "test", "-count=1", "./..."], cwd=go_dir, capture_output=True, text=True, timeout=600, check=False
    )


def _php_run(php_dir: Path) -> subprocess.CompletedProcess[str]:
    assert PHP, "php is not installed: apt-get install php-cli"
    return subprocess.run(
        [PHP, str(php_dir / "tests" / "run.php")], capture_output=True, text=True, timeout=300, check=False
    )


def test_go_types_pass_every_vector():
    done = _go_test(CONTRACTS_DIR / "go")
    assert done.returncode == 0, done.stdout + done.stderr


def test_php_types_pass_every_vector():
    done = _php_run(CONTRACTS_DIR / "php")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed, 0 failed" in done.stdout


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Path:
    """The contracts folder without Python or node_modules: spec, generated files and the Go and PHP tests."""
    copy = tmp_path / "contracts"
    shutil.copytree(
        CONTRACTS_DIR, copy, ignore=shutil.ignore_patterns("node_modules", "__pycache__", "*.py", "generator")
    )
    return copy


def test_a_changed_field_type_regenerated_fails_the_go_and_php_tests_on_the_old_vectors(contracts_copy: Path):
    """sequence becomes a string: regenerating changes the types, and the published vectors no longer fit."""
    path = contracts_copy / "spec" / "refund.update.v1.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["data"]["properties"]["sequence"] = {"type": "string", "minLength": 1}
    for example in spec["data"]["x-examples"]:
        example["sequence"] = str(example["sequence"])
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    old_vectors = contracts_copy / "vectors" / "refund.update.v1.json"
    published = old_vectors.read_text()
    call_command("generate_events", "--spec-dir", contracts_copy / "spec", "--output-dir", contracts_copy)
    assert "int64" not in _field_line(contracts_copy / "go" / "events_gen.go", "Sequence")
    old_vectors.write_text(published)  # what consumers of the old version still send

    go = _go_test(contracts_copy / "go")
    assert go.returncode != 0
    assert "refund.update.v1" in go.stdout
    php = _php_run(contracts_copy / "php")
    assert php.returncode != 0
    assert "refund.update.v1 valid" in php.stderr


def _field_line(path: Path, field: str) -> str:
    return next(line for line in path.read_text().splitlines() if line.strip().startswith(f"{field} "))
