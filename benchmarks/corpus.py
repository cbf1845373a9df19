"""A deterministic corpus for the search benchmark: N fictional Spanish testimonies of 2–8 KB.

Real testimony is not word salad from a few hundred words: its words follow Zipf's law (a few
stop words make up a third of the text, most words are rare), it names people and places, it
repeats set phrases ("detenidos desaparecidos", "toque de queda"), and OCR leaves typos that
grow the vocabulary. Query cost in an inverted index depends on exactly these things (how
long the posting lists of common terms are, how many terms a prefix or a fuzzy term expands
to), so the generator imitates them. 95% of the documents are Spanish, 3% English, 2% have no
language. The same (n, seed) always gives the same documents.

    docs = list(corpus.generate(10_000))        # (record, text) pairs
    record, text = docs[0]                     # record: what artefacts.record.build_record makes
"""

# ruff: noqa: SIM905  (word lists read best as text)

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator
from typing import Any

_STOP = (
    "de la que el en y a los se del las un por con no una su para es al lo como más pero "
    "sus le ya o fue este ha sí porque esta son entre cuando muy sin sobre también me "
    "hasta hay donde quien desde todo nos durante todos uno les ni contra otros ese eso "
    "ante ellos esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho "
    "nada muchos cual poco ella estas algunas algo nosotros mi mis te tu era eran había "
    "estaba estábamos fueron"
).split()

_NOUNS = (
    "casa calle plaza barrio pueblo ciudad estadio cuartel comisaría escuela iglesia "
    "fábrica hospital camión auto puerta ventana patio vecino vecina madre padre hermano "
    "hermana hijo hija esposo esposa familia amigo compañero trabajador obrero estudiante "
    "profesor dirigente sindicato militar soldado carabinero oficial agente testigo "
    "víctima nombre lista carta documento denuncia recurso tribunal juez abogado vicaría "
    "comité memoria verdad justicia noche día mañana tarde semana mes año miedo silencio "
    "ruido disparo grito llanto sangre ropa zapato reloj foto fotografía radio periódico "
    "noticia rumor camino río puente cerro campo aserradero mina puerto norte sur centro "
    "detención desaparición allanamiento tortura interrogatorio celda venda capucha "
    "guardia patrulla operativo fusil arma golpe corriente parrilla galpón recinto "
    "campamento campo isla embajada asilo exilio regreso búsqueda organización partido "
    "célula reunión volante panfleto consigna marcha huelga toma población cordón "
    "industria empresa fundo parcela reforma tierra sindicalista militante ejecución "
    "fusilamiento cadáver cuerpo fosa cementerio morgue certificado autopsia "
    "identificación resto hueso informe comisión declaración expediente causa proceso "
    "querella sentencia condena amnistía ley decreto bando toque queda estado sitio guerra "
    "consejo fiscal ministro general coronel capitán teniente sargento cabo conscripto "
    "civil"
).split()

_VERBS = (
    "llegar entrar sacar llevar golpear preguntar buscar decir ver escuchar esperar saber "
    "volver desaparecer morir salir correr gritar recordar contar detener allanar torturar "
    "interrogar vendar amarrar trasladar liberar soltar encontrar denunciar declarar "
    "reconocer identificar ejecutar fusilar enterrar callar llorar temer pensar creer "
    "mirar caminar dormir comer trabajar estudiar militar organizar marchar escapar "
    "esconder cuidar visitar"
).split()

_ADJ = (
    "detenido desaparecido muerto herido vendado amarrado torturado ejecutado liberado "
    "oscuro frío largo triste viejo joven pequeño grande último primero mismo nuevo blanco "
    "negro rojo cerrado abierto solo callado asustado cansado"
).split()

_PHRASES = (
    "detenidos desaparecidos",
    "casa de piedra",
    "toque de queda",
    "estado de sitio",
    "consejo de guerra",
    "recurso de amparo",
    "derechos humanos",
    "Vicaría de la Solidaridad",
    "ejecutados políticos",
    "campo de prisioneros",
    "la caravana de la muerte",
    "presos políticos",
)

_PHRASE_WEIGHTS = list(itertools.accumulate(1 / (r + 1) for r in range(len(_PHRASES))))

_ENGLISH = (
    "the of and to in a was he they were that his her at with on for by from we were had "
    "arrested detained taken soldiers police house night morning family brother sister "
    "mother father son daughter prison camp tortured disappeared witness testimony court "
    "judge lawyer report body grave found searched raided questioned beaten released exile "
    "embassy church street village city truck officer army soldier guard cell blindfold"
).split()

_GIVEN = (
    "María José Elena Luis Carmen Pedro Rosa Juan Ana Manuel Teresa Víctor Sergio Patricia "
    "Miguel Isabel Jorge Gladys Ricardo Marta Hernán Sonia Óscar Lucía Andrés Inés Raúl "
    "Julia Héctor Beatriz Alejandro Verónica Mario Cecilia Enrique Silvia Fernando Gloria "
    "Ramón Adela"
).split()

_SURNAMES = (
    "González Sepúlveda Rodríguez Muñoz Pérez Jiménez Hernández Fernández López Martínez "
    "Sánchez Ramírez Gómez Díaz Vásquez Álvarez Núñez Valenzuela Herrera Yáñez Ibáñez "
    "Contreras Rojas Soto Silva Morales Reyes Fuentes Espinoza Araya Carrasco Castillo "
    "Tapia Gutiérrez Cortés Castro Vargas Pizarro Olivares Riquelme Bravo Cárdenas Zúñiga "
    "Orellana Jara Gallardo Saavedra Cáceres Toro Venegas Aravena Leiva Figueroa Acuña "
    "Vera Vega Campos Miranda Sandoval Navarro Peña Ríos Vergara Quiroz Salazar Bustos "
    "Guzmán Pino Ortiz"
).split()

_PLACE_HEADS = [
    "Villa",
    "Población",
    "Cerro",
    "Puerto",
    "Calle",
    "Estadio",
    "Comisaría",
    "Regimiento",
    "Aserradero",
    "Fundo",
    "Isla",
    "Hospital",
    "Plaza",
    "Parroquia",
    "Liceo",
    "Mina",
]

_TAGS = (
    "detención desaparición tortura allanamiento ejecución exilio relegación violencia "
    "sexual niños trabajadores campesinos estudiantes mineros mapuche fosa clandestina "
    "recurso de amparo identificación búsqueda prensa iglesia sindicato retorno"
).split()

_SYLLABLES = (
    "ca co cu ma mo me mi pa pe pi po ra re ri ro ta te ti to la le li lo na ne ni no sa "
    "se si so va ve vi ga go gu da de di do ba be bi bo che chi lla lle llo que qui rra "
    "rre"
).split()
_TAIL = 40_000
_ENDINGS = ("", "a", "o", "as", "os", "ción", "dad", "mente", "aron", "aba", "ado", "ida")


def _inflect(rng: random.Random) -> list[str]:
    """Word forms of the content lexicon: plurals, genders, verb tenses."""
    forms: list[str] = []
    for n in _NOUNS:
        plural = n[:-3] + n[-3:].replace("ó", "o") + "es" if n.endswith("ón") else None
        if plural is None:
            plural = n + ("es" if n[-1] not in "aeiouáéíóú" else "s")
        forms += [n, plural]
    for v in _VERBS:
        stem, end = v[:-2], v[-2:]
        if end == "ar":
            forms += [v, stem + "ó", stem + "aron", stem + "aba", stem + "ábamos", stem + "ado"]
            forms += [stem + "amos", stem + "an", stem + "ando"]
        else:
            forms += [v, stem + "ió", stem + "ieron", stem + "ía", stem + "íamos", stem + "ido"]
            forms += [stem + "imos", stem + "en", stem + "iendo"]
    for a in _ADJ:
        if a.endswith("o"):
            forms += [a, a[:-1] + "a", a + "s", a[:-1] + "as"]
        else:
            forms += [a, a + "s"]
    rng.shuffle(forms)
    return forms


def _rare_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        n = rng.choice((2, 2, 3, 3, 3, 4))
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(n)) + rng.choice(_ENDINGS))
    return sorted(words)


class _Lexicon:
    """Word forms with Zipf weights: stop words first, then content forms, then a long tail."""

    def __init__(self, rng: random.Random) -> None:
        self.words = _STOP + _inflect(rng) + _rare_words(rng, _TAIL)
        n_stop = len(_STOP)
        # Stop words: ~45% of running text, "de" ~6% (as in Spanish prose).
        weights = [1.2 / (r + 1) ** 0.85 for r in range(n_stop)]
        n_forms = len(self.words) - n_stop - _TAIL
        weights += [1.2 / (r + 3) for r in range(n_forms)]
        # The tail (rare words, names of things) carries about a fifth of the content words.
        weights += [0.6 / (r + 3) for r in range(n_forms, n_forms + _TAIL)]
        self.cum = list(itertools.accumulate(weights))
        surnames = _SURNAMES + [w.capitalize() for w in _rare_words(rng, 1500)[:1500:3]]
        self.surnames = surnames
        self.places = [
            f"{rng.choice(_PLACE_HEADS)} {rng.choice(_SURNAMES + _rare_words(rng, 60)).title()}"
            for _ in range(400)
        ]

    def words_(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)


_LEXICONS: dict[int, _Lexicon] = {}


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]


def _person(rng: random.Random, lex: _Lexicon) -> str:
    return f"{rng.choice(_GIVEN)} {rng.choice(lex.surnames)} {rng.choice(lex.surnames)}"


def _date(rng: random.Random) -> str:
    year = rng.randint(1973, 1990)
    form = rng.random()
    if form < 0.2:
        return str(year)
    month = rng.randint(1, 12)
    if form < 0.5:
        return f"{year}-{month:02d}"
    if form < 0.9:
        return f"{year}-{month:02d}-{rng.randint(1, 28):02d}"
    end = min(year + rng.randint(0, 2), 1990)
    return f"{year}-{month:02d}/{end}-{rng.randint(month if end == year else 1, 12):02d}"


def _spanish(rng: random.Random, lex: _Lexicon, size: int, people: list[str]) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        words = lex.words_(rng, rng.randint(8, 24))
        roll = rng.random()
        if roll < 0.10:
            # Set phrases, the first far more common than the last.
            phrase = rng.choices(_PHRASES, cum_weights=_PHRASE_WEIGHTS)[0]
            words.insert(rng.randrange(len(words)), phrase)
        elif roll < 0.25:
            words.insert(rng.randrange(len(words)), rng.choice(people))
        elif roll < 0.33:
            words.insert(rng.randrange(len(words)), rng.choice(lex.places))
        if rng.random() < 0.3:
            j = rng.randrange(len(words))
            words[j] = _typo(rng, words[j])
        sentence = " ".join(words)
        sentence = sentence[0].upper() + sentence[1:] + rng.choice(".....,;?")
        sentence += "\n\n" if rng.random() < 0.12 else " "
        parts.append(sentence)
        length += len(sentence.encode("utf-8"))
    return "".join(parts).strip() + "\n"


def _english(rng: random.Random, size: int, people: list[str]) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        words = [rng.choice(_ENGLISH) for _ in range(rng.randint(8, 20))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(people))
        sentence = " ".join(words).capitalize() + ". "
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts).strip() + "\n"


def make_doc(n: int, seed: int = 1973) -> tuple[dict[str, Any], str]:
    """Document number ``n`` of the corpus: its record and its text (independent of others)."""
    lex = _LEXICONS.get(seed)
    if lex is None:
        lex = _LEXICONS[seed] = _Lexicon(random.Random(seed))
    rng = random.Random(seed * 1_000_003 + n)
    people = [_person(rng, lex) for _ in range(rng.randint(1, 4))]
    places = rng.sample(lex.places, rng.randint(1, 3))
    lang_roll = rng.random()
    language = "es" if lang_roll < 0.95 else ("en" if lang_roll < 0.98 else None)
    size = rng.randint(2048, 8192)
    if language == "en":
        text = _english(rng, size, people)
        title = f"Testimony of {people[0]} about {places[0]}"
    else:
        text = _spanish(rng, lex, size, people)
        title = f"Testimonio de {people[0]} sobre {rng.choice(_PHRASES)} en {places[0]}"
    kind = rng.choices(("testimony", "document", "audio", "photo"), (60, 30, 6, 4))[0]
    metadata: dict[str, Any] = {
        "title": title,
        "description": " ".join(lex.words_(rng, rng.randint(8, 25))).capitalize() + ".",
        "date": _date(rng),
        "created": f"{rng.randint(1975, 2024)}-{rng.randint(1, 12):02d}",
        "places": places,
        "people": [{"name": p, "role": rng.choice(("witness", "victim", "other"))} for p in people],
        "tags": rng.sample(_TAGS, rng.randint(1, 3)),
        "sensitivity": rng.choice(("public", "restricted", "restricted", "confidential")),
        "source": f"Fondo {rng.choice(_SURNAMES)}, caja {rng.randint(1, 300)}",
    }
    if language:
        metadata["language"] = language
    sha = hashlib.sha256(f"{seed}:{n}:{text}".encode()).hexdigest()
    record = {
        "id": sha,
        "kind": kind,
        "original": {"sha256": sha},
        "metadata": metadata,
        "ingested": {"at": f"2026-01-{1 + n % 28:02d}T10:00:00Z", "source": f"caja/{n}.txt"},
    }
    return record, text


def generate(n: int, seed: int = 1973, start: int = 0) -> Iterator[tuple[dict[str, Any], str]]:
    """Documents ``start`` .. ``start + n - 1`` of the corpus for ``seed``."""
    for i in range(start, start + n):
        yield make_doc(i, seed)


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for rec, txt in generate(count):
        print(rec["metadata"]["title"], len(txt.encode()), "bytes")
        print(txt[:400], "...\n")
