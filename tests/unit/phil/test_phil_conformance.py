"""The 49 worked conformance examples of docs phil.md section 7, one test per example."""

from __future__ import annotations

import os
import re

import pytest

from braggflow import phil
from braggflow.errors import ParameterError, PhilError, PhilSyntaxError


def show(text: str, **kw: object) -> str:
    return phil.parse(text).as_str(**kw)


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(PhilError) as info:
        fn(*args, **kw)
    return str(info.value)


def working(master: str, *users: str) -> phil.Scope:
    m = phil.parse(master)
    return m.fetch(sources=[phil.parse(u) for u in users])


def extract_one(master: str, user: str, name: str = "v"):
    return getattr(working(master, user).extract(), name)


def formatted(master: str, user: str) -> str:
    m = phil.parse(master)
    return m.format(m.fetch(source=phil.parse(user)).extract()).as_str()


def typed(t: str, name: str = "v", extra: str = "") -> str:
    return f"{name} = None\n  .type = {t}\n{extra}"


CL_MASTER = """\
spotfinder {
  filter {
    min_spot_size = Auto
      .type = int
    max_spot_size = 1000
      .type = int
    d_min = None
      .type = float
  }
  mp.nproc = 1
    .type = int
}
indexing {
  method = *fft3d fft1d
    .type = choice
  mp.nproc = 1
    .type = int
    .expert_level = 1
  d_min = None
    .type = float
}
"""


def cli(arg: str, **kw: object) -> str:
    m = phil.parse(CL_MASTER)
    return m.command_line_argument_interpreter(**kw).process(arg=arg).as_str()


CHOICE = "m = fft1d *fft3d real_space_grid_search\n  .type = choice\n"
POSSIBLE = "  Possible choices are:\n    fft1d\n    *fft3d\n    real_space_grid_search"
MULTI = "i = *auto profile sum scale\n  .type = choice(multi=True)\n"


# -- parsing and printing ------------------------------------------------------------------
def ex01():
    assert show("a=1;b = 2  3") == "a = 1\nb = 2 3\n"


def ex02():
    assert show("x = abc # note") == "x = abc\n"
    assert show("x = abc #note") == "x = abc #note\n"
    assert show("x=abc#note") == "x = abc#note\n"


def ex03():
    assert show('x = "a"\n   "b c"\ny = 1') == 'x = "a" "b c"\ny = 1\n'


def ex04():
    assert show("x = 1 \\\n    2") == "x = 1 2\n"


def ex05():
    assert show("a.b.c = 1\na {\nd = 2\n}") == "a.b.c = 1\na {\n  d = 2\n}\n"


def ex06():
    text = 's .help="x";.expert_level=1 { a = 1;.type=int }'
    assert show(text, attributes_level=2) == (
        "s\n  .help = x\n  .expert_level = 1\n{\n  a = 1\n    .type = int(allow_none=True)\n}\n"
    )


def ex07():
    assert error_of(phil.parse, "a b") == 'Syntax error: expected "=", found "b" (input line 1)'


def ex08():
    assert error_of(phil.parse, "x = 1\ny =\nz = 2") == "Missing value for y (input line 2)"


def ex09():
    assert (
        error_of(phil.parse, "s {\n a = 1\n")
        == 'Syntax error: no matching "}" for "{" at input line 1'
    )
    assert error_of(phil.parse, "s {\n}\n}") == "Unexpected end of input."


def ex10():
    assert (
        error_of(phil.parse, "1abc = 2")
        == 'Syntax error: improper definition name "1abc" (input line 1)'
    )


def ex11():
    assert (
        error_of(phil.parse, 'a = 1\nb = "oops\n')
        == "Syntax error: missing closing quote (input line 3)"
    )


def ex12():
    assert (
        error_of(phil.parse, "s {\n}\n  .type = int")
        == "Unexpected definition attribute: .type (input line 3)"
    )


def ex13():
    assert error_of(phil.parse, "s.include.t = 1") == 'Reserved identifier: "include" (input line 1)'
    assert error_of(phil.parse, "__init__ = 1") == 'Reserved identifier: "__init__" (input line 1)'


def ex14():
    names = " ".join("image_%03d.cbf" % i for i in range(1, 9))
    assert show("files = " + names) == (
        "files = image_001.cbf image_002.cbf image_003.cbf image_004.cbf image_005.cbf \\\n"
        "        image_006.cbf image_007.cbf image_008.cbf\n"
    )


def ex15():
    text = (
        "d_min = None\n  .help = \"The high resolution limit in Angstrom. Reflections beyond"
        ' this limit are ignored."'
    )
    assert show(text, attributes_level=1) == (
        "d_min = None\n"
        '  .help = "The high resolution limit in Angstrom. Reflections beyond this"\n'
        '          "limit are ignored."\n'
    )


def ex16():
    master = "x = 1\n  .type = int\n!y = 2\n  .type = int"
    assert working(master, "x = 5\ny = 6").as_str() == "x = 5\n"


# -- types ---------------------------------------------------------------------------------
def ex17():
    m = typed("bool", "flag")
    assert extract_one(m, "flag = yes", "flag") is True
    assert extract_one(m, "flag = Off", "flag") is False
    assert extract_one(m, "flag = 1", "flag") is True
    assert (
        error_of(extract_one, m, "flag = maybe", "flag")
        == 'One True or False value expected, flag="maybe" found (input line 1)'
    )


def ex18():
    m = typed("int", "n")
    assert extract_one(m, "n = 2**3+1", "n") == 9
    assert extract_one(m, "n = 3.0", "n") == 3
    assert extract_one(m, "n = ceil(7/2)", "n") == 4
    assert (
        error_of(extract_one, m, "n = 3.5", "n")
        == 'Error interpreting n="3.5" as an integer expression (input line 1)'
    )
    assert (
        error_of(extract_one, m, "n = True", "n")
        == 'Error interpreting n="True" as a numeric expression (input line 1)'
    )


def ex19():
    m = typed("float", "f")
    assert formatted(m, "f = 1/3") == "f = 0.3333333333\n"
    assert formatted(m, "f = 1e-3") == "f = 0.001\n"
    assert formatted(m, "f = 2.0") == "f = 2\n"
    assert formatted(m, "f = 123456789012") == "f = 1.23456789e+11\n"


def ex20():
    assert error_of(extract_one, typed("int(value_min=1, value_max=10)", "n"), "n = 0", "n") == (
        "n element is less than the minimum allowed value: 0 < 1 (input line 1)"
    )
    assert error_of(extract_one, typed("float(value_min=0, value_max=1)", "f"), "f = 1.5", "f") == (
        "f element is greater than the maximum allowed value: 1.5 > 1 (input line 1)"
    )
    assert (
        error_of(extract_one, typed("int(value_min=1, allow_none=False)", "n"), "n = None", "n")
        == "n cannot be None"
    )


def ex21():
    assert formatted(typed("ints"), "v = [1, 2, 3]") == "v = 1 2 3\n"
    assert error_of(extract_one, typed("floats(size=2)"), "v = 1 2 3") == (
        "Too many values for v: 3 given, exactly 2 required (input line 1)"
    )
    assert error_of(extract_one, typed("ints(size_min=2)"), "v = 7") == (
        "Not enough values for v: 1 given, at least 2 required (input line 1)"
    )
    assert error_of(extract_one, typed("ints"), "v = 1 none") == (
        "v element cannot be None (input line 1)"
    )


def ex22():
    m = typed("str", "s")
    assert formatted(m, "s = hello    big world") == 's = "hello big world"\n'
    assert formatted(m, "s = 'hello    big world'") == 's = "hello    big world"\n'
    assert extract_one(m, 's = "None"', "s") == "None"


def ex23():
    assert formatted(typed("strings", "s"), "s = alpha 'b c' x-y") == 's = alpha "b c" "x-y"\n'


def ex24():
    master = (
        "a = 1\n .type = int\nb = x\n .type = str\nc = True\n .type = bool\n"
        "d = 1 2\n .type = ints\ne = *p q\n .type = choice\n"
    )
    user = "a=none\nb=AUTO\nc=Auto\nd=None\ne=auto"
    assert formatted(master, user) == "a = None\nb = Auto\nc = Auto\nd = None\ne = Auto\n"
    e = working(master, user).extract()
    assert e.a is None and e.b is phil.Auto and e.c is phil.AUTO and e.d is None
    assert e.e is phil.Auto


def ex25():
    value = extract_one(typed("path", "p"), "p = ~/x.cbf", "p")
    assert value == os.path.expanduser("~/x.cbf")
    assert not value.startswith("~")


def ex26():
    w = working(CHOICE, "m = FFT1D")
    assert w.as_str() == "m = *fft1d fft3d real_space_grid_search\n"
    assert w.extract().m == "fft1d"


def ex27():
    w = working(CHOICE, "m = *fft1d *fft3d")
    assert error_of(w.extract) == (
        "Multiple choices for m; only one choice can be selected (input line 1)"
    )


def ex28():
    assert error_of(working, CHOICE, "m = fft2d") == (
        "Not a possible choice for m: fft2d (input line 1)\n" + POSSIBLE
    )


def ex29():
    assert extract_one(CHOICE, "m = None", "m") is None
    assert extract_one(CHOICE, "m = fft1d fft3d", "m") is None
    strict = CHOICE + "  .optional = False\n"
    assert error_of(working, strict, "m = None") == (
        "Not a possible choice for m: None (input line 1)\n" + POSSIBLE
    )


def ex30():
    w = working(MULTI, "i = profile+sum")
    assert w.as_str() == "i = auto *profile *sum scale\n"
    assert w.extract().i == ["profile", "sum"]
    assert extract_one(MULTI, "i = None", "i") == []
    assert error_of(working, MULTI, "i = profile+summation") == (
        "Not a possible choice for i: summation (input line 1)\n"
        "  Possible choices are:\n    *auto\n    profile\n    sum\n    scale"
    )


def ex31():
    assert formatted(typed("space_group", "sg"), "sg = P41212") == 'sg = "P 41 21 2"\n'
    assert formatted(typed("unit_cell", "uc"), "uc = 57.8,57.8,150") == (
        "uc = 57.8 57.8 150 90 90 90\n"
    )


# -- fetch, diff and variables -------------------------------------------------------------
def ex32():
    assert working("a = 1\n .type = int", "a = 2", "a = 3\na = 4").as_str() == "a = 4\n"


def ex33():
    w = working("s { a = 1; b = 2 }", "s { a = 10 }", "s.b = 20", "s { a = 30 }")
    assert w.as_str() == "s {\n  a = 30\n  b = 20\n}\n"


def ex34():
    m = "f = None\n .type = str\n .multiple = True"
    assert extract_one(m, "f = x.cbf\nf = y.cbf\nf = x.cbf", "f") == ["y.cbf", "x.cbf"]


LATTICE = "lattice .multiple = True { id = 0\n .type = int\n name = None\n .type = str }"


def ex35():
    w = working(LATTICE, "lattice { id = 1 }\nlattice.name = second")
    assert w.as_str() == (
        "lattice {\n  id = 1\n  name = None\n}\nlattice {\n  id = 0\n  name = second\n}\n"
    )
    got = [(x.id, x.name) for x in w.extract().lattice]
    assert got == [(1, None), (0, "second")]
    empty = working(LATTICE)
    assert empty.extract().lattice == []
    assert empty.as_str() == "lattice {\n  id = 0\n  name = None\n}\n"


def ex36():
    m = phil.parse("a { b = 1\n .type = int }")
    user = phil.parse("a.b = 2\na.c = 3\nd = 4", file_name="user.phil")
    w, unused = m.fetch(source=user, track_unused_definitions=True)
    assert w.as_str() == "a {\n  b = 2\n}\n"
    assert [str(u) for u in unused] == [
        'a.c (file "user.phil", line 2)',
        'd (file "user.phil", line 3)',
    ]


def ex37():
    assert error_of(working, "s { a = 1 }", "s = 5") == (
        'Incompatible parameter objects: scope "s" (input line 1) vs. definition "s" (input line 1)'
    )


def ex38(monkeypatch):
    monkeypatch.setenv("BF_DATA", "/data")
    master = "root = None\nhkl = None\n .type = path\nlabel = None\n .type = str\nraw = None\n .type = str"
    user = "root = lyso\nhkl = $BF_DATA/$(root)_1.mtz\nlabel = \"run $root\"\nraw = '$root'"
    assert working(master, user).as_str() == (
        "root = lyso\nhkl = \"/data/lyso_1.mtz\"\nlabel = \"run lyso\"\nraw = '$root'\n"
    )


def ex39():
    master = phil.parse(
        "out { name = 'strong.refl'\n .type = str }\nd_min = None\n .type = float\n"
        "mode = *a b\n .type = choice\nn = 3\n .type = int"
    )
    user = phil.parse("out.name = strong.refl\nd_min = 2.0\nmode = a\nn = 4")
    params = master.fetch(source=user).extract()
    assert master.fetch_diff(source=master.format(params)).as_str() == "d_min = 2\nn = 4\n"


def ex40():
    m = phil.parse(
        "a = 1\nb = 2\n .expert_level = 1\ns .expert_level = 2 { c = 3 }\n"
        "t { d = 4\n .expert_level = 3\ne = 5 }"
    )
    assert m.as_str(expert_level=0) == "a = 1\nt {\n  e = 5\n}\n"
    assert m.as_str(expert_level=1) == "a = 1\nb = 2\nt {\n  e = 5\n}\n"
    assert m.as_str(expert_level=2) == "a = 1\nb = 2\ns {\n  c = 3\n}\nt {\n  e = 5\n}\n"
    assert m.as_str(expert_level=3) == (
        "a = 1\nb = 2\ns {\n  c = 3\n}\nt {\n  d = 4\n  e = 5\n}\n"
    )


# -- command line ----------------------------------------------------------------------------
def ex41():
    assert cli("min_spot_size=3") == "spotfinder.filter.min_spot_size = 3\n"
    assert cli("filter.max_spot_size=50") == "spotfinder.filter.max_spot_size = 50\n"
    assert cli("spotfinder.filter { max_spot_size = 50 }") == (
        "spotfinder.filter.max_spot_size = 50\n"
    )


def ex42():
    assert error_of(cli, "size=3") == (
        "Ambiguous parameter definition: size = 3\nBest matches:\n"
        "  spotfinder.filter.min_spot_size\n  spotfinder.filter.max_spot_size"
    )


def ex43():
    assert error_of(cli, "d_min=2") == (
        "Ambiguous parameter definition: d_min = 2\nBest matches:\n"
        "  spotfinder.filter.d_min\n  indexing.d_min"
    )


def ex44(capsys):
    assert cli("nproc=4") == "spotfinder.mp.nproc = 4\n"
    block = (
        "Ambiguous parameter definition: nproc = 4\nBest matches:\n"
        "  spotfinder.mp.nproc\n  indexing.mp.nproc"
    )
    assert capsys.readouterr().out == (
        f"Warning: {block}\nAssuming spotfinder.mp.nproc was intended.\n"
    )
    assert error_of(cli, "nproc=4", assume_when_ambiguous=False) == block


def ex45():
    msg = error_of(cli, "spot_min=3")
    assert msg.splitlines()[0] == "Unknown command line parameter definition: spot_min = 3"


def ex46():
    assert error_of(cli, "min_spot_size=") == (
        "Error interpreting command line argument as parameter definition:\n"
        '  "min_spot_size="\n'
        "  RuntimeError: Missing value for min_spot_size (command line argument, line 1)"
    )


def ex47():
    assert cli("ilter.min_spot=2") == "spotfinder.filter.min_spot_size = 2\n"
    assert cli("exing.meth=fft1d") == "indexing.method = fft1d\n"
    assert error_of(cli, "ot_size=2") == (
        "Ambiguous parameter definition: ot_size = 2\nBest matches:\n"
        "  spotfinder.filter.min_spot_size\n  spotfinder.filter.max_spot_size"
    )


def ex48():
    assert error_of(cli, "spotfinder {}") == (
        'Command line parameter definition has no effect: "spotfinder {}"'
    )


def ex49():
    m = phil.parse(CL_MASTER)
    interp = m.command_line_argument_interpreter()
    w = m.fetch(source=interp.process(arg="min_spot_size=2;max_spot_size=20"))
    assert (w.extract().spotfinder.filter.min_spot_size, w.extract().spotfinder.filter.max_spot_size) == (2, 20)
    w = m.fetch(source=interp.process(arg="min_spot_size=2 max_spot_size=20"))
    msg = error_of(w.extract)
    assert msg.startswith(
        'Error interpreting spotfinder.filter.min_spot_size="2 max_spot_size=20"'
        " as a numeric expression: "
    )


EXAMPLES = {n: f for n, f in sorted(globals().items()) if re.fullmatch(r"ex\d\d", n)}
assert len(EXAMPLES) == 49


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_conformance_example(name: str, request: pytest.FixtureRequest) -> None:
    fn = EXAMPLES[name]
    kwargs = {arg: request.getfixturevalue(arg) for arg in fn.__code__.co_varnames[: fn.__code__.co_argcount]}
    fn(**kwargs)


def test_error_classes() -> None:
    with pytest.raises(PhilSyntaxError):
        phil.parse("a b")
    with pytest.raises(ParameterError):
        working(CHOICE, "m = fft2d")
