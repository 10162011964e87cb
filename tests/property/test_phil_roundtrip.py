"""Property tests: printing is a parse fixed point; random input only ever raises PhilError."""

from __future__ import annotations

import keyword

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braggflow import phil
from braggflow.errors import PhilError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
identifiers = st.text(_first + "0123456789", min_size=1, max_size=8).filter(
    lambda s: s[0] in _first
    and s != "include"
    and not (len(s) >= 5 and s.startswith("__") and s.endswith("__"))
    and not keyword.iskeyword(s)
)
bare_words = st.text(
    "abcxyzABC0123456789._-+*/:,()[]$@!%^&~?<>|=#", min_size=1, max_size=10
).filter(lambda s: s not in ("#", "\\") and not s.startswith("#"))
quoted_words = st.tuples(
    st.sampled_from(["'", '"']), st.text("ab c'\"\\\n\t{};#=é", max_size=12)
).map(lambda qv: qv[0] + qv[1].replace("\\", "\\\\").replace(qv[0], "\\" + qv[0]) + qv[0])
values = st.lists(st.one_of(bare_words, quoted_words), min_size=1, max_size=12)
help_texts = st.lists(st.text("abcdefghij.-,:()", min_size=1, max_size=9), min_size=1, max_size=20).map(" ".join)
types = st.sampled_from(
    ["int", "float(value_min=0)", "ints(size=2)", "floats(size_min=1, value_max=10)", "str", "path",
     "bool", "strings", "qstr", "words", "choice", "choice(multi=True)", "key", "None",
     "int(value_min=1, value_max=5)", "space_group", "unit_cell"]
)


@st.composite
def definition(draw) -> str:
    name = draw(st.lists(identifiers, min_size=1, max_size=2).map(".".join))
    bang = "!" if draw(st.integers(0, 9)) == 0 else ""
    lines = [f"{bang}{name} = {' '.join(draw(values))}"]
    if draw(st.booleans()):
        lines.append(f"  .help = \"{draw(help_texts)}\"")
    if draw(st.booleans()):
        lines.append(f"  .type = {draw(types)}")
    for attr in ("multiple", "optional", "deprecated"):
        if draw(st.integers(0, 4)) == 0:
            lines.append(f"  .{attr} = {draw(st.sampled_from(['True', 'False', 'None']))}")
    if draw(st.booleans()):
        lines.append(f"  .expert_level = {draw(st.integers(0, 3))}")
    for attr in ("caption", "short_caption", "style", "alias"):
        if draw(st.integers(0, 5)) == 0:
            lines.append(f"  .{attr} = \"{draw(help_texts)}\"")
    if draw(st.integers(0, 6)) == 0:
        lines.append(f"  .input_size = {draw(st.integers(0, 200))}")
    sep = draw(st.sampled_from(["\n", ";", "\n\n  "]))
    return sep.join(lines)


def scope_text(children: list[str], name: str, attrs: list[str]) -> str:
    return name + " " + " ".join(attrs) + " {\n" + "\n".join(children) + "\n}"


statements = st.recursive(
    definition(),
    lambda inner: st.builds(
        scope_text,
        st.lists(inner, min_size=0, max_size=4),
        identifiers,
        st.lists(
            st.one_of(
                help_texts.map(lambda h: f'.help = "{h}";'),
                st.integers(0, 3).map(lambda n: f".expert_level = {n};"),
                st.sampled_from([".multiple = True;", ".optional = False;", ".style = x;"]),
            ),
            max_size=3,
        ),
    ),
    max_leaves=12,
)
documents = st.lists(statements, min_size=0, max_size=6).map("\n".join)


@SETTINGS
@given(documents, st.integers(0, 3), st.one_of(st.none(), st.integers(-1, 3)))
def test_as_str_is_a_parse_fixed_point(text: str, attributes_level: int, expert_level) -> None:
    x = phil.parse(text)  # everything generated above is valid PHIL
    printed = x.as_str(attributes_level=attributes_level, expert_level=expert_level)
    again = phil.parse(printed).as_str(attributes_level=attributes_level, expert_level=expert_level)
    assert again == printed


alphabet = st.sampled_from(list("ab1 \n\t{}=;#\"'\\.!$*()[],+-_") + ["include", "#phil", "__x__", "'''"])


@SETTINGS
@given(st.lists(alphabet, max_size=40).map("".join))
def test_random_text_raises_only_phil_error(text: str) -> None:
    try:
        scope = phil.parse(text)
    except PhilError:
        return
    scope.as_str(attributes_level=3)
    try:
        scope.fetch(source=scope).extract()
    except PhilError:
        pass


@SETTINGS
@given(types, st.lists(st.one_of(bare_words, quoted_words, st.sampled_from(["none", "Auto", "1e999", "2**99999", "(" * 200])), min_size=1, max_size=6))
def test_random_values_raise_only_phil_error(type_text: str, words: list[str]) -> None:
    master = phil.parse(f"v = a *b c\n  .type = {type_text}")
    try:
        user = phil.parse("v = " + " ".join(words))
        working = master.fetch(source=user)
        extracted = working.extract()
        master.format(extracted).as_str()
        master.fetch_diff(source=working).as_str()
    except PhilError:
        pass
