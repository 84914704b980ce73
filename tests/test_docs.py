"""The front page and docs/: every relative link resolves, the README's commands exist, the README stays short."""
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMG = re.compile(r"<img\s[^>]*\bsrc=\"([^\"]+)\"")  # the gallery's pictures, sized in HTML
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def github_anchor(heading):
    """GitHub's heading id: lower case, punctuation dropped (letters of any script kept), spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path):
    seen, out = {}, set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = github_anchor(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def relative_links(path):
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    for target in LINK.findall(text) + IMG.findall(text):
        if not re.match(r"[a-z][a-z0-9+.-]*:", target):
            yield target


def test_anchor_rule_matches_github():
    assert github_anchor("OGC services — GeoServer engine") == "ogc-services--geoserver-engine"
    assert github_anchor("Production: docker-compose.yml") == "production-docker-composeyml"
    assert github_anchor("The pages: `/siting/`, `/wifi/`, `/sensors/`") == "the-pages-siting-wifi-sensors"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(doc):
    broken = []
    links = list(relative_links(doc))
    for target in links:
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / unquote(file_part)).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target} (no file {dest.relative_to(ROOT) if ROOT in dest.parents else dest})")
        elif anchor and dest.suffix == ".md" and unquote(anchor) not in anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links: {broken}"


def test_readme_links_into_every_doc():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(ROOT / "README.md")}
    missing = [d.name for d in DOCS[1:] if d.resolve() not in linked]
    assert not missing, f"README.md does not link to docs/{missing}"


def test_readme_commands_exist_in_makefile():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:", (ROOT / "Makefile").read_text(), re.M))
    for command in ("demo", "test"):
        assert f"make {command}" in readme, f"README.md does not name `make {command}`"
        assert command in targets, f"Makefile has no `{command}` target"


def test_readme_is_short():
    size = (ROOT / "README.md").stat().st_size
    assert size < 12 * 1024, f"README.md is {size} bytes; the front door stays under 12 KB (move detail to docs/)"


def test_every_committed_picture_is_shown_somewhere():
    """A picture no doc shows is a stale one (docs/screenshots.py --gallery writes only what gallery.md lists)."""
    shown = {(doc.parent / unquote(t.partition("#")[0])).resolve() for doc in DOCS for t in relative_links(doc)}
    pictures = [p for folder in ("docs/screenshots", "docs/img") for p in sorted((ROOT / folder).glob("*.*"))]
    unshown = [p.relative_to(ROOT).as_posix() for p in pictures if p.resolve() not in shown]
    assert not unshown, f"pictures no doc shows: {unshown}"
