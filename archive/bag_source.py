"""BagIt bags (RFC 8493) as import sources: a plain bag, or an evidence package.

Read strictly, with the standard library only: every payload file must be in every payload
manifest and every manifest entry must exist; paths must stay inside the bag; the payload's
digests, the tag manifests' digests and Payload-Oxum must hold. A bag that breaks any of this is
refused whole (:class:`archive.import_source.SourceRefused`): what it carries cannot be told
apart from what was slipped into it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from archive.findings import Code, Finding
from archive.import_source import (
    LIMIT_SMALL,
    SourcePlan,
    long_line,
    open_regular,
    refuse_if,
    scan_tree,
    unsafe_path,
)

_MANIFEST = re.compile(r"(tag)?manifest-([a-z0-9]+)\.txt")
#: Tag files that need not be listed in a tag manifest. The package's signature over its tag
#: manifest cannot be listed in it (docs/evidence-package.md).
_UNLISTED_TAGS = frozenset({"bagit.txt", "bag-info.txt", "tagmanifest-sha512.txt.sig"})
_ALGORITHMS = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
_LINE = re.compile(r"([0-9a-fA-F]+)[ \t]+(.+)")


@dataclass
class Bag:
    info: list[tuple[str, str]] = field(default_factory=list)
    payload: dict[str, dict[str, str]] = field(default_factory=dict)  # alg -> path -> hex
    tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, label: str) -> str | None:
        """The first value of a bag-info.txt label (labels compare without case)."""
        want = label.lower()
        return next((v for k, v in self.info if k.lower() == want), None)


def _decode_path(text: str) -> str:
    """RFC 8493 2.1.3: %0A, %0D and %25 stand for LF, CR and '%'."""
    return re.sub(
        r"%(0[aAdD]|25)", lambda m: {"0a": "\n", "0d": "\r", "25": "%"}[m[1].lower()], text
    )


def _read_small(root: Path, rel: str, problems: list[Finding]) -> bytes | None:
    try:
        with open_regular(root / rel) as f:
            data: bytes = f.read(LIMIT_SMALL + 1)
    except OSError as e:
        problems.append(Finding(Code.BAG_INVALID, f"cannot be read ({e})", path=rel))
        return None
    if len(data) > LIMIT_SMALL:
        problems.append(Finding(Code.BAG_INVALID, "is absurdly large", path=rel))
        return None
    return data


def _text(data: bytes, rel: str, problems: list[Finding]) -> str | None:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        problems.append(Finding(Code.BAG_INVALID, "is not UTF-8", path=rel))
        return None


def parse_info(text: str, rel: str, problems: list[Finding]) -> list[tuple[str, str]]:
    """``Label: value`` lines; a line starting with blanks continues the value above."""
    out: list[tuple[str, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line[0] in " \t" and out:
            label, value = out[-1]
            out[-1] = (label, f"{value} {line.strip()}")
            continue
        label, sep, value = line.partition(":")
        if not sep or not label.strip():
            problems.append(Finding(Code.BAG_INVALID, f"line {n} is not 'Label: value'", path=rel))
            continue
        out.append((label.strip(), value.strip()))
    return out


def _parse_manifest(text: str, rel: str, alg: str, problems: list[Finding]) -> dict[str, str]:
    out: dict[str, str] = {}
    width = hashlib.new(alg).digest_size * 2
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line:
            continue
        m = _LINE.fullmatch(line)
        if m is None or len(m[1]) != width:
            problems.append(
                Finding(Code.BAG_INVALID, f"line {n} is not '<{alg} digest> <path>'", path=rel)
            )
            continue
        path = _decode_path(m[2])
        why = unsafe_path(path)
        if why is not None:
            problems.append(Finding(Code.BAG_INVALID, f"line {n} names {why}: {path!r}", path=rel))
        elif path in out:
            problems.append(Finding(Code.BAG_INVALID, f"line {n} lists {path} twice", path=rel))
        else:
            out[path] = m[1].lower()
    return out


def read_bag(root: Path, files: dict[str, int], problems: list[Finding]) -> Bag:
    """bagit.txt, bag-info.txt and the manifests, checked for form."""
    bag = Bag()
    declaration = _read_small(root, "bagit.txt", problems) if "bagit.txt" in files else None
    text = _text(declaration, "bagit.txt", problems) if declaration is not None else None
    if text is None or not re.search(r"(?m)^BagIt-Version: *\d+\.\d+\r?$", text):
        problems.append(Finding(Code.BAG_INVALID, "no BagIt-Version line", path="bagit.txt"))
    elif not re.search(r"(?mi)^Tag-File-Character-Encoding: *UTF-8\r?$", text):
        problems.append(
            Finding(Code.BAG_INVALID, "tag files must be UTF-8 to be read", path="bagit.txt")
        )
    if "fetch.txt" in files:
        problems.append(
            Finding(
                Code.BAG_INVALID,
                "the bag lists files to download; nothing is ever fetched over a network",
                path="fetch.txt",
            )
        )
    if "bag-info.txt" in files:
        data = _read_small(root, "bag-info.txt", problems)
        info = _text(data, "bag-info.txt", problems) if data is not None else None
        if info is not None:
            bag.info = parse_info(info, "bag-info.txt", problems)
    for rel in sorted(files):
        m = _MANIFEST.fullmatch(rel)
        if m is None:
            continue
        alg = m[2]
        if alg not in _ALGORITHMS:
            problems.append(Finding(Code.BAG_INVALID, f"unknown algorithm {alg}", path=rel))
            continue
        n = long_line(root / rel)
        if n is not None:
            problems.append(Finding(Code.BAG_INVALID, f"line {n} is absurdly long", path=rel))
            continue
        with open_regular(root / rel) as f:
            text = _text(f.read(), rel, problems)
        if text is not None:
            (bag.tags if m[1] else bag.payload)[alg] = _parse_manifest(text, rel, alg, problems)
    if not bag.payload:
        problems.append(Finding(Code.BAG_INVALID, "the bag has no payload manifest", path="."))
    return bag


def check_listing(bag: Bag, files: dict[str, int], problems: list[Finding]) -> None:
    """Every payload file in every payload manifest, every entry a file, every tag file
    listed (or one of the few that need not be), and Payload-Oxum."""
    payload = {rel for rel in files if rel.startswith("data/")}
    for alg, entries in sorted(bag.payload.items()):
        rel = f"manifest-{alg}.txt"
        for path in sorted(entries):
            if not path.startswith("data/"):
                problems.append(Finding(Code.BAG_INVALID, f"lists {path}, outside data/", path=rel))
            elif path not in files:
                problems.append(Finding(Code.FILE_MISSING, f"is listed in {rel}", path=path))
        for path in sorted(payload - set(entries)):
            problems.append(Finding(Code.UNEXPECTED_FILE, f"is not listed in {rel}", path=path))
    tagged = {p for entries in bag.tags.values() for p in entries}
    for alg, entries in sorted(bag.tags.items()):
        for path in sorted(entries):
            if path not in files:
                problems.append(
                    Finding(Code.FILE_MISSING, f"is listed in tagmanifest-{alg}.txt", path=path)
                )
    for rel in sorted(set(files) - payload):
        if rel in _UNLISTED_TAGS or _MANIFEST.fullmatch(rel) or rel in tagged:
            continue
        problems.append(
            Finding(Code.UNEXPECTED_FILE, "is not listed in any tag manifest", path=rel)
        )
    oxum = bag.value("Payload-Oxum")
    if oxum is not None:
        m = re.fullmatch(r"(\d{1,30})\.(\d{1,30})", oxum)
        octets, count = sum(files[p] for p in payload), len(payload)
        if m is None:
            problems.append(
                Finding(Code.BAG_INVALID, "Payload-Oxum is malformed", path="bag-info.txt")
            )
        elif (int(m[1]), int(m[2])) != (octets, count):
            problems.append(
                Finding(
                    Code.PAYLOAD_OXUM_MISMATCH,
                    f"Payload-Oxum says {m[1]} bytes in {m[2]} files; the payload holds "
                    f"{octets} bytes in {count} files",
                    path="bag-info.txt",
                )
            )


def hash_files(
    root: Path, wanted: dict[str, dict[str, str]], problems: list[Finding]
) -> dict[str, dict[str, str]]:
    """Hash each file with the algorithms it is listed under (alg -> path -> expected
    digest); FIXITY_MISMATCH where a digest differs. Returns path -> alg -> digest."""
    algs_of: dict[str, list[str]] = {}
    for alg, entries in wanted.items():
        for path in entries:
            algs_of.setdefault(path, []).append(alg)
    out: dict[str, dict[str, str]] = {}
    for path in sorted(algs_of):
        hashers = {alg: hashlib.new(alg) for alg in algs_of[path]}
        try:
            with open_regular(root / path) as f:
                while chunk := f.read(1 << 20):
                    for h in hashers.values():
                        h.update(chunk)
        except OSError as e:
            problems.append(Finding(Code.FILE_MISSING, f"cannot be read ({e})", path=path))
            continue
        out[path] = {alg: h.hexdigest() for alg, h in hashers.items()}
        for alg, digest in out[path].items():
            if digest != wanted[alg][path]:
                problems.append(
                    Finding(
                        Code.FIXITY_MISMATCH,
                        f"its {alg} differs from the manifest's: the file was changed",
                        path=path,
                    )
                )
    return out


def plan_bag(root: Path, kind: str) -> SourcePlan:
    """A plain bag (its payload is ingested) or an evidence package (its artefacts are
    taken with their signed records)."""
    problems: list[Finding] = []
    files = scan_tree(root, problems)
    bag = read_bag(root, files, problems)
    refuse_if(problems, root)
    check_listing(bag, files, problems)
    refuse_if(problems, root)
    if kind == "package":
        # The package checker hashes every file against the manifests (and the copy hashes
        # each byte again): the manifests' digests stand until then.
        payload: dict[str, dict[str, str]] = {}
        for alg, entries in bag.payload.items():
            for path, digest in entries.items():
                payload.setdefault(path, {})[alg] = digest
    else:
        payload = hash_files(root, bag.payload, problems)
        hash_files(root, bag.tags, problems)
        refuse_if(problems, root)
    plan = SourcePlan(kind, root)
    plan.bag_info = {}
    for label, value in bag.info:
        plan.bag_info.setdefault(label, value)
    plan.package = bag.value("External-Identifier")
    plan.total_bytes = sum(files[p] for p in payload)
    if kind == "bag":
        plan.payload_sha256 = {p: d["sha256"] for p, d in payload.items() if "sha256" in d}
        return plan
    from archive.package_source import plan_package

    return plan_package(root, bag, files, payload, plan)
