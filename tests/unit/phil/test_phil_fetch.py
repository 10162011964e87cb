"""fetch, fetch_diff, .multiple, variables, unknown names, deprecated/alias, extract, format."""

from __future__ import annotations

import warnings

import pytest

from braggflow import phil
from braggflow.errors import ParameterError, PhilError


def fetch(master: str, *users: str, **kw: object):
    return phil.parse(master).fetch(sources=[phil.parse(u) for u in users], **kw)


MULTI = (
    "s .multiple=True { a = 1\n .type=int\n}\nf = 1\n .type=int\n .multiple=True\n"
    "g = x\n .multiple=True\ng = y"
)


@pytest.mark.parametrize(
    "user, shown, s, f, g, diff",
    [
        ("s { a = 1 }", "s {\n  a = 1\n}\nf = 1\ng = y\n", [], [], [["y"]], ""),
        ("s{a=01}", "s {\n  a = 1\n}\nf = 1\ng = y\n", [], [], [["y"]], ""),
        ("s{a=2}\ns{a=1}\ns{a=2}", "s {\n  a = 2\n}\nf = 1\ng = y\n", [2], [], [["y"]], "s {\n  a = 2\n}\n"),
        ("f=2\nf=1\nf=02", "s {\n  a = 1\n}\nf = 02\ng = y\n", [], [2], [["y"]], "f = 02\n"),
        ("g=y\ng=z\ng=x", "s {\n  a = 1\n}\nf = 1\ng = y\ng = z\n", [], [], [["y"], ["z"]], "g = z\n"),
        ("g=None", "s {\n  a = 1\n}\nf = 1\ng = y\ng = None\n", [], [], [["y"], None], "g = None\n"),
        ("f=None\nf=2", "s {\n  a = 1\n}\nf = None\nf = 2\ng = y\n", [], [None, 2], [["y"]], "f = None\nf = 2\n"),
        ("s{a=3}\ns.a=4", "s {\n  a = 3\n}\ns {\n  a = 4\n}\nf = 1\ng = y\n", [3, 4], [], [["y"]],
         "s {\n  a = 3\n}\ns {\n  a = 4\n}\n"),
    ],
)
def test_multiple_semantics(user, shown, s, f, g, diff) -> None:
    master = phil.parse(MULTI)
    w = master.fetch(source=phil.parse(user))
    assert w.as_str() == shown
    e = w.extract()
    assert [x.a for x in e.s] == s and e.f == f and e.g == g
    assert master.fetch_diff(source=phil.parse(user)).as_str() == diff
    assert master.format(e).as_str() == master.fetch(source=master.format(e)).as_str()


def test_multiple_template_shown_at_attributes_level_2() -> None:
    w = fetch(MULTI, "f=3")
    text = w.as_str(attributes_level=2)
    assert text.count("f = ") == 2 and "f = 1\n" in text and "f = 3\n" in text
    assert w.as_str().count("f = ") == 1


def test_multiple_optional_false_template_is_an_instance() -> None:
    m = "lattice .multiple = True; .optional = False { id = 0\n .type = int }"
    assert [x.id for x in fetch(m).extract().lattice] == [0]
    assert [x.id for x in fetch(m, "lattice.id = 1").extract().lattice] == [0, 1]


def test_multiple_none_dropped_when_optional_true() -> None:
    m = "f = None\n .type=int\n .multiple=True\n .optional=True"
    assert fetch(m, "f=None\nf=2").extract().f == [2]


def test_format_of_empty_multiple_gives_template() -> None:
    master = phil.parse("f = 7\n .type = int\n .multiple = True")
    e = master.fetch().extract()
    assert e.f == []
    assert master.format(e).as_str() == "f = 7\n"
    e.f = [1, 2]
    assert master.format(e).as_str() == "f = 1\nf = 2\n"


def test_same_named_scopes_are_not_merged_but_extract_joins_them() -> None:
    w = fetch("s { a = 1 }\ns { b = 2 }", "s.a = 5\ns.b = 6")
    assert w.as_str() == "s {\n  a = 5\n}\ns {\n  b = 6\n}\n"
    e = w.extract()
    assert (e.s.a, e.s.b) == (["5"], ["6"])


def test_duplicate_definitions_in_master() -> None:
    with pytest.raises(PhilError) as info:
        fetch("a = 1\nb = 2\na = 3", "b = 3")
    assert str(info.value) == (
        "Duplicate definitions in master (first not marked with .multiple=True):\n"
        "  a (input line 1)\n  a (input line 3)"
    )


def test_incompatible_objects_both_ways() -> None:
    with pytest.raises(ParameterError, match=r'^Incompatible parameter objects: definition "s"'):
        fetch("s = 1", "s { a = 5 }")


def test_unknown_definitions_raise_with_hint() -> None:
    master = phil.parse("spotfinder { filter { min_spot_size = 3\n .type = int } }")
    user = phil.parse("spotfinder.filter.min_spot_sise = 4", file_name="user.phil")
    with pytest.raises(ParameterError) as info:
        master.fetch(source=user)
    assert str(info.value) == (
        "The following definitions were not recognised\n"
        '  spotfinder.filter.min_spot_sise = 4 (file "user.phil", line 1)\n'
        "    Did you mean: spotfinder.filter.min_spot_size?"
    )
    # the libtbx behaviour is still available
    w = master.fetch(source=user, strict=False)
    assert w.as_str() == "spotfinder {\n  filter {\n    min_spot_size = 3\n  }\n}\n"


def test_variables() -> None:
    master = "n = 1\n .type = int\ns { n = 2\n .type = int }\nq = None"
    assert fetch(master, "q = 3\ns { n = $q }").extract().s.n == 3
    assert fetch(master, "q=1\nq=2\nn=$q").extract().n == 2
    assert fetch(master, "q = 4\nn = $(q)0").extract().n == 40
    assert fetch(master, "q = 1 2\nn = 3\ns.n = 4").extract().q == ["1", "2"]
    for user, message in [
        ("n = $zz", "Undefined variable: $zz (input line 1)"),
        ("s { r = 3 }\nn = $s", "Not a definition: $s (input line 2)"),
        ("n = $(1bc)", 'Syntax error: improper variable name "$(1bc)" (input line 1)'),
        ("n = $(abc", 'Syntax error: missing ")": "$(abc" (input line 1)'),
        ("n = $", 'Syntax error: $ must be followed by an identifier: "$" (input line 1)'),
        ("n = $q\nq = 5", "Undefined variable: $q (input line 1)"),
    ]:
        with pytest.raises(PhilError) as info:
            fetch(master, user)
        assert str(info.value) == message


def test_environment_only_for_path_and_never_in_diff(monkeypatch) -> None:
    monkeypatch.setenv("BF_TEST_DIR", "/somewhere")
    master = "p = None\n .type = path\ns = None\n .type = str"
    assert fetch(master, "p = $BF_TEST_DIR/x").extract().p == "/somewhere/x"
    with pytest.raises(ParameterError, match=r"^Undefined variable: \$BF_TEST_DIR"):
        fetch(master, "s = $BF_TEST_DIR/x")
    diff = phil.parse(master).fetch_diff(source=phil.parse("p = $BF_TEST_DIR/x"))
    assert diff.as_str() == 'p = "$BF_TEST_DIR/x"\n'


def test_fetch_diff_drops_defaults_and_empty_scopes() -> None:
    master = phil.parse("a { b = 1\n .type = int\n c = 2 }\nd = *x y\n .type = choice")
    diff = master.fetch_diff(source=phil.parse("a.b = 1.0\nd = X"))
    assert diff.as_str() == ""
    diff = master.fetch_diff(sources=[phil.parse("a.c = 3"), phil.parse("d = y")])
    assert diff.as_str() == "a {\n  c = 3\n}\nd = x *y\n"


def test_deprecated() -> None:
    master = "x = 1\n .deprecated = True\n .type = int\ny = 2"
    assert fetch(master, "x=1").as_str(attributes_level=3).startswith("y = 2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = fetch(master, "x=5")
    assert "x is deprecated - not recommended for use." in str(caught[0].message)
    assert w.extract().x == 5
    assert w.as_str(attributes_level=3).startswith("# WARNING: deprecated parameter\nx = 5\n")


def test_alias() -> None:
    master = phil.parse("s { new_name = 1\n .type = int\n .alias = old_name\n}")
    assert master.fetch(source=phil.parse("s.old_name = 5")).extract().s.new_name == 5
    assert master.fetch(source=phil.parse("s.old_name = 5\ns.new_name=6")).extract().s.new_name == 6
    assert master.as_str(attributes_level=1) == "s {\n  new_name = 1\n    .alias = old_name\n}\n"


def test_fetch_keeps_master_attributes_and_source_words() -> None:
    master = phil.parse("d = None\n .type = float\n .help = high resolution limit")
    w = master.fetch(source=phil.parse("d = 2.0"))
    assert w.as_str(attributes_level=1) == "d = 2.0\n  .help = \"high resolution limit\"\n"
    assert master.as_str() == "d = None\n"  # the master is not modified


def test_extract_namespace() -> None:
    w = fetch("t { c { x = 1\n .type = int } }\n!d = 2", "t.c.x = 3")
    e = w.extract()
    assert e.t.c.x == 3
    assert e.t.c.__phil_path__() == "t.c"
    assert not hasattr(e, "d")  # fetch drops disabled master objects
    assert phil.parse("!d = 2\nd2 = 3").extract().d is None
    e.t.c.x = 4
    with pytest.raises(AttributeError, match=r'^Assignment to non-existing attribute "t.c.z"'):
        e.t.c.z = 1
    e.t.c.__inject__("z", 1)
    assert e.t.c.z == 1
    again = phil.parse("t { c { x = 1\n .type = int } }").extract()
    assert again.t.c.x == 1 and again != e


def test_format_round_trip() -> None:
    master = phil.parse(
        "a = 1\n .type = int\nb = x\n .type = str\nc { d = 1.5\n .type = float\n"
        " e = *p q\n .type = choice\n f = 1 2\n .type = ints }\ng = None\n .type = path"
    )
    e = master.fetch().extract()
    e.a, e.b, e.g = 5, "hello world", "/x/y"
    e.c.d, e.c.e, e.c.f = 0.25, "q", [3, 4]
    text = master.format(e).as_str()
    assert text == (
        'a = 5\nb = "hello world"\nc {\n  d = 0.25\n  e = p *q\n  f = 3 4\n}\ng = "/x/y"\n'
    )
    assert master.fetch(source=phil.parse(text)).extract() == e
