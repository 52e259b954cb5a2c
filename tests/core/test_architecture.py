"""The import rules of pyproject.toml ([tool.importlinter]), run by bin/test, catch what
they promise to: each test breaks one rule in a copy of the code and expects lint-imports
to fail naming that rule; the unchanged copy passes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "governance", "knowledge_base", "plugins")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The Python files of the project and its import rules, copied once."""
    copy = tmp_path_factory.mktemp("architecture")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            copy / package,
            ignore=shutil.ignore_patterns("templates", "static", "locale", "__pycache__"),
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.fixture
def tree(pristine, tmp_path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{statement}  # noqa\n")


def test_the_code_as_it_is_keeps_every_rule(tree):
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "rule"),
    [
        (
            "portal.navigation",
            "import plugins.announcements.models",
            "The core (portal) imports no plugin",
        ),
        (
            "governance.services.ballots",
            "from knowledge_base.policies import selectors",
            "A plugin imports no other plugin (they talk through portal.signals)",
        ),
        (
            "plugins.patron_notices.directory.services",
            "from plugins.patron_notices.notices import planning",
            "Patron notices: the notice engine may use the directory, never the reverse",
        ),
        (
            "knowledge_base.training.selectors",
            "from knowledge_base.training import views",
            "Inside a plugin: pages (views, api, tasks, admin) -> services -> selectors -> models",
        ),
        (
            "plugins.patron_notices.notices.leases",
            "from plugins.patron_notices.notices import sending",
            "No import cycle between the modules of a package",
        ),
        (
            # The registry is below the member libraries that read it (their switches).
            "portal.plugins",
            "from portal.members import roles",
            "No import cycle between the modules of a package",
        ),
    ],
    ids=[
        "core-to-plugin",
        "plugin-to-plugin",
        "directory-to-notices",
        "layers",
        "cycle",
        "core-cycle",
    ],
)
def test_a_broken_rule_fails_the_check(tree, module, statement, rule):
    add_import(tree, module, statement)
    result = lint_imports(tree)
    report = " ".join(result.stdout.split())  # long names are wrapped
    assert result.returncode == 1, report
    assert f"{rule} BROKEN" in report
    assert " 0 broken." not in report
