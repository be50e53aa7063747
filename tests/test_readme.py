"""The README says what scripts/setup.sh does: the same Debian packages, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_the_debian_packages_setup_installs():
    script = (ROOT / "scripts" / "setup.sh").read_text()
    packages = set(re.search(r'^APT_PACKAGES="([^"]+)"', script, re.M).group(1).split())
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("`scripts/setup.sh` installs"):].split("\n\n")[0]
    named = set(re.findall(r"`([a-z0-9][a-z0-9.+-]*)`", paragraph.split("then CPU")[0]))
    assert named == packages
