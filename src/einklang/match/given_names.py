"""Common given names, to tell a typing error ("Pihlipp") from another person's name ("Lea").

String distance alone cannot: Lena and Lea are one letter apart and two people, Pihlipp and
Philipp are one letter swap apart and one person. A list of names in use can: two different
names in it are two people (unless something personal says otherwise); a spelling that is no
name but one typing error away from exactly one name in it is that name. The list holds the
given names common in Germany, Austria and Switzerland across the generations alive today, and
those frequent among people from other countries living there; a name missing from it only
means that the matcher falls back to string distance, as it did without the list.
"""

from __future__ import annotations

from functools import lru_cache

from einklang.match import _normalize as norm

_GIVEN_NAMES = """
aaron adam adrian ahmed ahmet alexander alexandra alexandros alfons alfred ali alice alina
alois amelie ana anastasia andre andrea andreas andrej anette angela angelika anja anke anna
annalena anne annegret annemarie annette anni antje anton antonia arne arnold artur astrid
august axel ayse barbara beate ben benedikt benjamin bernd bernhard berta bettina bianca
birgit bjorn boris brigitte bruno burkhard carina carl carla carmen carolin caroline carsten
charlotte chiara christa christian christiane christina christine christoph christopher clara
claudia claus constanze cornelia dagmar damian daniel daniela dario david denis dennis detlef
diana dieter dietmar dirk dominik doris dorothea edith eduard elena eleni elias elisabeth elke
ella ellen elsa elias emil emilia emily emine emma erich erik erika ernst erwin esther eva
ewa fabian fatma felix florian frank franz franziska frauke frida friedrich fritz gabi
gabriele georg gerd gerda gerhard gertrud gisela gottfried gregor greta gudrun guido gunter
gunther gustav gulay hakan hanna hannah hannelore hans hartmut hasan heidi heike heiko
heinrich heinz helene helga helmut hendrik henning henrik herbert hermann hildegard holger
horst hubert hugo ida ilse ines inge ingeborg ingo ingrid irene iris irmgard isabel isabell
isabella ivan jakob jan jana janina janine jannik jasmin jens jessica joachim jochen johann
johanna johannes jonas jonathan jordis jorg josef josefine julia julian juliane julius jurgen
justus jutta kai karin karina karl karla karsten katharina kathe katja katrin kemal kerstin
kevin kim klara klaus konrad kristina kurt lara larissa lars laura lea lena leni leo leon
leonard leonie lina linda lisa lothar louis luca lucas ludwig luisa luise lukas lutz magdalena
maik malte manfred manuel manuela marc marcel marco marcus maren margarete margit margot
maria marianne marie marina mario marion marius mark marko markus marlene marta martha martin
martina mathias matthias max maximilian mehmet melanie merle mia michael michaela michelle
milan mira miriam mohammed monika moritz murat mustafa nadine nadja natalie natascha nico
nicole niklas nikolai nikolaus nils nina noah norbert olaf olga oliver oskar otto pascal
patricia patrick paul paula pauline peter petra philipp pia rafael ralf ralph rainer regina
reinhard reinhold renate rene richard rita robert robin roland rolf rosemarie ruth sabine
sabrina sandra sara sarah sascha sebastian selin sergej siegfried silke silvia simon simone
sofia sonja sophia sophie soren stefan stefanie steffen stephan stephanie susanne svenja sven
svetlana swen tanja tatjana theo theresa thomas thorsten tilo tim timo tobias tom torsten
ulf ulla ulrich ulrike ursula ute uwe valentin valentina vanessa vera verena viktor viktoria
volker walter waltraud werner wilhelm willi wolfgang yannick yasemin yusuf zeynep
"""

GIVEN_NAMES: frozenset[str] = frozenset(
    folded for folded in (norm.fold(name) for name in _GIVEN_NAMES.split()) if folded is not None
)
"""The names above, folded as the matcher folds names (lower case, umlauts as their base letter)."""

_BY_INITIAL: dict[str, tuple[str, ...]] = {}
for _name in sorted(GIVEN_NAMES):
    _BY_INITIAL[_name[0]] = (*_BY_INITIAL.get(_name[0], ()), _name)

_SHORTEST_TYPO = 4
"""Shorter spellings are too close to too many names ("Jaa": Jan or Jana?) to be read as one."""


@lru_cache(maxsize=20_000)
def given_name_key(first_fold: str | None) -> str | None:
    """The given name ``first_fold`` is, or the one name it is a typing error of; else None.

    ``first_fold`` is folded (see :func:`einklang.match._normalize.fold`). A spelling one edit
    (a letter left out, added, changed, or two swapped) away from two names is left open (None):
    "Elle" may be Elke or Ella. Double names and initials are left open too.
    """
    if not first_fold or " " in first_fold or len(first_fold) < 2:
        return None
    if first_fold in GIVEN_NAMES:
        return first_fold
    if len(first_fold) < _SHORTEST_TYPO:
        return None
    from rapidfuzz.distance import DamerauLevenshtein

    # Typing errors rarely touch the first letter; comparing only names with the same initial
    # keeps this cheap and keeps "Anna"/"Hanna" apart.
    candidates = [
        name
        for name in _BY_INITIAL.get(first_fold[0], ())
        if abs(len(name) - len(first_fold)) <= 1 and DamerauLevenshtein.distance(name, first_fold) <= 1
    ]
    return candidates[0] if len(candidates) == 1 else None
