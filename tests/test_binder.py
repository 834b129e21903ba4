"""The Binder environment (binder/) is the course environment (requirements.txt), on Python 3.11+.

binder/requirements.txt must pin exactly the packages and versions of the root requirements.txt,
and add only the PyTorch CPU wheel index, which must never appear in the root file (there it
would make every local install depend on download.pytorch.org). binder/postBuild installs
course_lib itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
ROOT_REQUIREMENTS = ROOT / "requirements.txt"
BINDER = ROOT / "binder"
TORCH_CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index")


def lines(path: Path) -> list[str]:
    """The meaningful lines of a requirements file: comments and blank lines removed."""
    result = []
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            result.append(line)
    return result


def pins(path: Path) -> dict[str, str]:
    """{normalized package name: the full requirement}, for the lines that are requirements."""
    result = {}
    for line in lines(path):
        if line.startswith("-"):
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name not in result, f"{path.name}: {requirement.name} is listed twice"
        result[name] = str(requirement)
    return result


def test_root_requirements_are_exact_pins():
    for name, requirement in pins(ROOT_REQUIREMENTS).items():
        assert re.fullmatch(r"[A-Za-z0-9._\[\],-]+==[A-Za-z0-9.+!-]+", requirement.replace(" ", "")), (
            f"requirements.txt: {requirement} is not an exact pin (name==version)"
        )


def test_binder_pins_equal_root_pins():
    root, binder = pins(ROOT_REQUIREMENTS), pins(BINDER / "requirements.txt")
    missing = sorted(set(root) - set(binder))
    extra = sorted(set(binder) - set(root))
    different = sorted(f"{root[n]} (root) vs {binder[n]} (binder)" for n in set(root) & set(binder) if root[n] != binder[n])
    assert not missing, f"binder/requirements.txt lacks {missing}"
    assert not extra, f"binder/requirements.txt has packages the root file does not: {extra}"
    assert not different, f"pins differ: {different}"


def test_binder_adds_only_the_pytorch_cpu_index():
    options = [line for line in lines(BINDER / "requirements.txt") if line.startswith("-")]
    assert options == [TORCH_CPU_INDEX], options


def test_root_requirements_have_no_index_line():
    offending = [
        line
        for line in lines(ROOT_REQUIREMENTS)
        if line.startswith(INDEX_OPTIONS) or "download.pytorch.org" in line
    ]
    assert not offending, f"requirements.txt must not name a package index: {offending}"


def test_runtime_is_python_311_or_newer():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert match, f"binder/runtime.txt should read like python-3.11, not {runtime!r}"
    assert (int(match[1]), int(match[2])) >= (3, 11), runtime


def test_postbuild_installs_course_lib():
    post_build = BINDER / "postBuild"
    assert post_build.is_file()
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    script = post_build.read_text()
    assert script.startswith("#!"), "binder/postBuild needs a shebang line"
    commands = [line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert any(
        re.search(r"pip install\b.*--no-deps\b.*(-e \.|\s\.)\s*$", command) for command in commands
    ), f"binder/postBuild does not install course_lib with --no-deps: {commands}"
