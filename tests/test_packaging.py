"""What a user installs: the wheel holds the templates and migrations, the metadata
names only the three runtime dependencies, and the migrations match the models."""

import site
import subprocess
import sys
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "useraccounts"
# Building wheels and new sites uses no test database: once per CI run is enough (the
# default user model, on SQLite), which keeps CI under its time budget.
only_once = pytest.mark.skipif(
    settings.AUTH_USER_MODEL != "auth.User"
    or not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
    reason="run once, with the default user model on SQLite",
)


def build_wheel(out: Path) -> Path:
    """The wheel of the source tree, built into ``out``, as ``pip wheel`` builds it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("django_useraccounts-*.whl")
    return built


def venv_with_wheel(venv: Path, wheel: Path, *, dependencies: bool = False) -> Path:
    """A fresh venv at ``venv`` with ``wheel`` installed, offline (``--no-index``); its
    python. With ``dependencies``, the packages of the interpreter running the tests
    (Django, django-anymail, argon2-cffi) are importable in it too, through a ``.pth``
    file: plain paths, so the test venv's editable install of the app is not, and
    ``useraccounts`` comes from the wheel alone."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    if dependencies:
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        paths = [path for path in site.getsitepackages() if Path(path).is_dir()]
        (Path(purelib) / "zz_test_dependencies.pth").write_text("\n".join(paths) + "\n")
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def shipped_files() -> set[str]:
    """Every template, migration and locale file of the source tree, as wheel paths."""
    files = set()
    for folder in ("templates", "migrations", "locale"):
        for path in (APP / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                files.add(path.relative_to(ROOT).as_posix())
    return files


@pytest.mark.packaging
@only_once
def test_wheel_holds_templates_migrations_and_metadata(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = shipped_files()
    assert "useraccounts/templates/useraccounts/base.html" in expected
    assert "useraccounts/migrations/0001_initial.py" in expected
    assert "useraccounts/py.typed" in names  # type checkers read the hints
    # The API's OpenAPI document, which the API serves at openapi.json.
    shipped = zipfile.ZipFile(wheel).read("useraccounts/api/openapi.json")
    assert shipped == (APP / "api" / "openapi.json").read_bytes()
    assert expected <= names, sorted(expected - names)
    assert not any(n.startswith(("tests/", "testproject/")) for n in names)
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    requires = sorted(
        line.split(":", 1)[1].split(";")[0].split(">")[0].split("=")[0].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
    assert requires == ["Django", "argon2-cffi", "django-anymail"]


@pytest.mark.packaging
@only_once
def test_wheel_installs_into_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    python = venv_with_wheel(venv, wheel)
    probe = (
        "import importlib.resources as r, useraccounts;"
        "root = r.files('useraccounts');"
        "print(useraccounts.__file__);"
        "print((root / 'templates/useraccounts/base.html').is_file());"
        "print((root / 'templates/useraccounts/email/email_confirmation_message.html').is_file());"
        "print((root / 'migrations/0001_initial.py').is_file())"
    )
    out = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout.split()
    assert out[0].startswith(str(venv))
    assert out[1:] == ["True", "True", "True"]


@pytest.mark.django_db
def test_migrations_match_the_models():
    out = StringIO()
    call_command("makemigrations", "useraccounts", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
