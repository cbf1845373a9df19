"""The plain-text files of an evidence package: bag-info.txt, manifests, and VERIFY.txt.

VERIFY.txt tells a recipient, in Spanish and English, the exact commands that check the
package with standard tools. Every line that starts with ``  $ `` is a command, run from the
package folder; the tests run them verbatim, so the instructions cannot rot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Marks a command line in VERIFY.txt (the tests extract and run these lines).
COMMAND_PREFIX = "  $ "


def bag_size(n: int) -> str:
    """A human-readable size for bag-info's Bag-Size (decimal units, as bagit-python)."""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def one_line(text: str) -> str:
    """A bag-info value: line breaks and other control characters become spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{label}: {one_line(value)}\n" for label, value in fields).encode("utf-8")


def encode_path(path: str) -> str:
    """A manifest path, percent-encoding what RFC 8493 §2.1.3 asks (``%``, CR, LF)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def manifest(digests: Mapping[str, str]) -> bytes:
    """``<hex>  <path>`` lines sorted by path."""
    return "".join(f"{digests[p]}  {encode_path(p)}\n" for p in sorted(digests)).encode("utf-8")


def verify_text(
    *,
    archive_name: str,
    artefacts: int,
    events: int,
    custodian_pem: str,
    custodian_fingerprint: str,
    exporter_principal: str,
    exporter_fingerprint: str,
) -> str:
    c = COMMAND_PREFIX
    return f"""\
VERIFICAR ESTE PAQUETE  /  HOW TO CHECK THIS PACKAGE
=====================================================

Paquete de evidencia del archivo «{archive_name}»: {artefacts} artefacto(s) y {events}
evento(s) de custodia. Cada afirmación se puede comprobar con herramientas estándar,
sin Constancia. Ejecute los comandos en esta carpeta (la que contiene este archivo).

Evidence package from the archive "{archive_name}": {artefacts} artefact(s) and {events}
custody event(s). Every claim can be checked with standard tools, without Constancia.
Run the commands in this folder (the one holding this file).

Firmantes / Signers
-------------------
Custodio (firma el punto de control) / custodian (signs the checkpoint):
    {custodian_fingerprint}
Quien exportó (firma tagmanifest-sha512.txt) / exporter (signs tagmanifest-sha512.txt):
    {exporter_fingerprint}
Compare estas huellas con las que recibió por otro medio: el paquete prueba que nada
cambió desde que estas claves lo firmaron, no quién es dueño de las claves.
Compare these fingerprints with ones you received another way: the package proves nothing
changed since these keys signed it, not who holds the keys.

1. Todo de una vez (solo Python 3) / Everything at once (Python 3 only)
------------------------------------------------------------------------
verify.py usa solo la biblioteca estándar de Python / uses only Python's standard library.
Añada / add  --custodian {custodian_fingerprint}  para exigir esa clave / to insist on that key.
{c}python3 -I verify.py

2. Integridad de cada archivo / Integrity of every file (coreutils)
--------------------------------------------------------------------
{c}sha512sum -c --quiet manifest-sha512.txt
{c}sha256sum -c --quiet manifest-sha256.txt
{c}sha512sum -c --quiet tagmanifest-sha512.txt

Cada carpeta data/artefacts/<ID>/ lleva como nombre el SHA-256 del original que contiene.
Each folder data/artefacts/<ID>/ is named by the SHA-256 of the original it holds.

3. Quién hizo el paquete / Who made the package (OpenSSH)
---------------------------------------------------------
{c}ssh-keygen -Y verify -f data/keys/allowed_signers -I {exporter_principal} -n constancia-package -s tagmanifest-sha512.txt.sig < tagmanifest-sha512.txt

4. Firma de cada registro / Signature of every record (OpenSSH)
----------------------------------------------------------------
{c}for d in data/artefacts/*/; do p=$(ssh-keygen -Y find-principals -f data/keys/allowed_signers -s "$d/record.json.sig") && ssh-keygen -Y verify -f data/keys/allowed_signers -I "$p" -n constancia-record -s "$d/record.json.sig" < "$d/record.json" || exit 1; done

5. El punto de control firmado / The signed checkpoint (OpenSSL 3)
------------------------------------------------------------------
data/custody/checkpoint es una nota firmada (C2SP tlog-checkpoint): origen, número de eventos
y raíz Merkle (RFC 9162) del registro de custodia, firmada con Ed25519 por el custodio.
data/custody/checkpoint is a signed note (C2SP tlog-checkpoint): origin, number of events and
Merkle root (RFC 9162) of the custody log, signed with Ed25519 by the custodian.
{c}sed '/^$/,$d' data/custody/checkpoint > checkpoint-body.tmp
{c}grep '^— ' data/custody/checkpoint | head -n1 | awk '{{print $3}}' | base64 -d | tail -c 64 > checkpoint-sig.tmp
{c}openssl pkeyutl -verify -pubin -inkey {custodian_pem} -rawin -in checkpoint-body.tmp -sigfile checkpoint-sig.tmp
{c}rm checkpoint-body.tmp checkpoint-sig.tmp

6. Eventos de custodia / Custody events
---------------------------------------
data/custody/events.jsonl: cada línea es idéntica a su línea en el registro del archivo
(JSON canónico RFC 8785, firmado con SSHSIG, espacio de nombres constancia-event).
data/custody/proofs.jsonl: en el mismo orden, la prueba de inclusión RFC 9162 de cada evento
en el árbol del punto de control. verify.py comprueba ambas cosas.
data/custody/events.jsonl: each line is identical to its line in the archive's log (RFC 8785
canonical JSON, signed with SSHSIG, namespace constancia-event). data/custody/proofs.jsonl:
in the same order, each event's RFC 9162 inclusion proof in the checkpoint's tree. verify.py
checks both.

Formato / Format: docs/evidence-package.md in the Constancia source; BagIt 1.0 (RFC 8493).
"""
