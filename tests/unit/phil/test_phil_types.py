"""Every PHIL type: extract (words -> Python), format (Python -> words), bounds and errors."""

from __future__ import annotations

import gemmi
import pytest

from braggflow import phil
from braggflow.errors import ParameterError


def master_of(t: str, extra: str = "") -> phil.Scope:
    return phil.parse(f"v = None\n  .type = {t}\n{extra}")


def extract(t: str, value: str, extra: str = ""):
    m = master_of(t, extra)
    return m.fetch(source=phil.parse(f"v = {value}")).extract().v


def fmt(t: str, value: str, extra: str = "") -> str:
    m = master_of(t, extra)
    return m.format(m.fetch(source=phil.parse(f"v = {value}")).extract()).as_str()


def error(t: str, value: str, extra: str = "") -> str:
    with pytest.raises(ParameterError) as info:
        extract(t, value, extra)
    return str(info.value)


@pytest.mark.parametrize(
    "value, expected",
    [("yes", True), ("Off", False), ("1", True), ("0", False), ("TRUE", True), ("no", False),
     ("on", True), ("none", None), ("auto", phil.Auto), ("'yes'", True)],
)
def test_bool(value: str, expected: object) -> None:
    assert extract("bool", value) is expected


def test_bool_errors_and_format() -> None:
    assert error("bool", "True False") == (
        'One True or False value expected, v="True False" found (input line 1)'
    )
    assert fmt("bool", "yes") == "v = True\n"
    assert master_of("bool").format(phil.ScopeExtract()).as_str() == "v = None\n"


@pytest.mark.parametrize(
    "value, expected",
    [("008", 8), ("-5", -5), ("1e3", 1000), ("sqrt(16)", 4), ("7//2", 3), ("7%3", 1),
     ("(1+2)*3", 9), ("1 #c", 1), ("'3'", 3), ("2**10", 1024), ("None", None), ("Auto", phil.Auto)],
)
def test_int_values(value: str, expected: object) -> None:
    got = extract("int", value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "Error interpreting v=\"abc\" as a numeric expression: NameError: name 'abc' is not defined (input line 1)"),
        ("2**0.5", 'Error interpreting v="2**0.5" as an integer expression (input line 1)'),
        ("1,2", 'Error interpreting v="1,2" as an integer expression (input line 1)'),
        ("1/0", 'Error interpreting v="1/0" as a numeric expression: ZeroDivisionError: division by zero (input line 1)'),
        ("x y", 'Error interpreting v="x y" as a numeric expression: SyntaxError: invalid syntax (line 1) (input line 1)'),
        ("__import__('os')", "Error interpreting v=\"__import__('os')\" as a numeric expression: NameError: name '__import__' is not defined (input line 1)"),
        ("9**9**9", 'Error interpreting v="9**9**9" as a numeric expression: OverflowError: integer too large (input line 1)'),
    ],
)
def test_int_errors(value: str, message: str) -> None:
    assert error("int", value) == message


def test_int_bounds() -> None:
    t = "int(value_min=1, value_max=10)"
    assert extract(t, "10") == 10 and extract(t, "1") == 1 and extract(t, "None") is None
    assert error(t, "11") == (
        "v element is greater than the maximum allowed value: 11 > 10 (input line 1)"
    )
    assert extract("int(value_min=1, allow_none=False)", "Auto") is phil.Auto


def test_float() -> None:
    assert extract("float", "pi") == pytest.approx(3.141592653589793)
    assert extract("float", "2") == 2.0 and isinstance(extract("float", "2"), float)
    assert error("float", "1,2") == (
        'Error interpreting v="1,2" as a floating-point expression (input line 1)'
    )
    assert error("float(value_min=0)", "-0.5") == (
        "v element is less than the minimum allowed value: -0.5 < 0 (input line 1)"
    )
    assert fmt("float", "0.1+0.2") == "v = 0.3\n"


def test_ints_and_floats() -> None:
    assert extract("ints", "(1,2)") == [1, 2]
    assert extract("ints", '"1;2"') == [1, 2]
    assert extract("ints", "[(1 2)]") == [1, 2]
    assert extract("ints", "2*3 4") == [6, 4]
    assert extract("ints", "None") is None and extract("ints", "auto") is phil.Auto
    assert extract("floats", "1 2.5") == [1.0, 2.5]
    assert extract("ints(allow_none_elements=True, allow_auto_elements=True)", "1 none auto") == [
        1, None, phil.Auto,
    ]
    assert error("ints", "1 auto") == "v element cannot be Auto (input line 1)"
    assert error("ints", "1 2.5") == (
        'Error interpreting v="1 2.5" as an integer expression (input line 1)'
    )
    assert error("floats", "1 abc") == (
        "Error interpreting v=\"abc\" as a numeric expression: NameError: name 'abc' is not"
        " defined (input line 1)"
    )
    assert error("ints(size_max=4)", "1 2 3 4 5") == (
        "Too many values for v: 5 given, 4 allowed at most (input line 1)"
    )
    assert error("ints(size=2)", "1") == (
        "Not enough values for v: 1 given, exactly 2 required (input line 1)"
    )
    assert error("floats(value_min=0)", "1 -1") == (
        "v element is less than the minimum allowed value: -1 < 0 (input line 1)"
    )
    assert fmt("floats", "1.5,2") == "v = 1.5 2\n"
    assert fmt("ints(allow_none_elements=True)", "1 None") == "v = 1 None\n"


def test_str_path_key_qstr_words_strings() -> None:
    assert extract("str", "a 'b c'") == "a b c"
    assert extract("str", "'it''s'") == "it s"
    assert extract("str", "auto") is phil.Auto and extract("str", "'auto'") == "auto"
    assert fmt("str", '"x\\"y"') == 'v = "x\\"y"\n'
    assert extract("key", "k1") == "k1" and fmt("key", "'a b'") == 'v = "a b"\n'
    assert extract("path", "/x/y.cbf") == "/x/y.cbf" and fmt("path", "a") == 'v = "a"\n'
    assert extract("qstr", "a 'b c' \"d\"") == "a 'b c' \"d\""
    assert fmt("qstr", "a 'b c' \"d\"") == "v = a 'b c' \"d\"\n"
    words = extract("words", "a 'b' \"c\"")
    assert [str(w) for w in words] == ["a", "'b'", '"c"']
    assert fmt("words", "a 'b' \"c\"") == "v = a 'b' \"c\"\n"
    assert extract("strings", "a.b c_d 1 '' \"x y\"") == ["a.b", "c_d", "1", "", "x y"]
    assert fmt("strings", "a.b c_d 1 '' \"x y\"") == 'v = a.b c_d "1" "" "x y"\n'
    assert extract("strings", "'none'") == ["none"] and extract("strings", "none") is None
    # untyped definitions behave as strings
    assert phil.parse("v = a 'b c'").extract().v == ["a", "b c"]


@pytest.mark.parametrize(
    "value, symbol",
    [("P41212", "P 41 21 2"), ("p 4 21 2", "P 4 21 2"), ("96", "P 43 21 2"), ("P21", "P 1 21 1"),
     ("R3", "R 3 :H"), ("H3", "R 3 :H"), ("C2", "C 1 2 1"), ("P4/n", "P 4/n :2"),
     ("Fd-3m", "F d -3 m :2"), ("R 3 2 :R", "R 3 2 :R"), ("I2", "I 1 2 1"), ("P1", "P 1")],
)
def test_space_group(value: str, symbol: str) -> None:
    sg = extract("space_group", value)
    assert isinstance(sg, gemmi.SpaceGroup)
    assert fmt("space_group", value) == f'v = "{symbol}"\n'


def test_space_group_errors_and_python_values() -> None:
    assert error("space_group", "xyz").startswith('v="xyz" is not a space group')
    m = master_of("space_group")
    e = m.fetch().extract()
    assert e.v is None
    e.v = gemmi.SpaceGroup("P 21 21 21")
    assert m.format(e).as_str() == 'v = "P 21 21 21"\n'
    e.v = "C2"
    assert m.format(e).as_str() == 'v = "C 1 2 1"\n'


def test_unit_cell() -> None:
    uc = extract("unit_cell", "57.8,57.8,150")
    assert isinstance(uc, gemmi.UnitCell)
    assert uc.parameters == pytest.approx((57.8, 57.8, 150, 90, 90, 90))
    assert fmt("unit_cell", "10") == "v = 10 1 1 90 90 90\n"
    assert fmt("unit_cell", "10 20 30 90 100 110") == "v = 10 20 30 90 100 110\n"
    assert error("unit_cell", "1 2 3 4 5 6 7").startswith('v="1 2 3 4 5 6 7" is not a unit cell')
    assert error("unit_cell", "abc").startswith('v="abc" is not a unit cell')
    assert "zero or negative" in error("unit_cell", "-1 2 3")
    assert "angle" in error("unit_cell", "10 20 30 90 90 200")
    m = master_of("unit_cell")
    e = m.fetch().extract()
    e.v = (10, 20, 30, 90, 90, 120)
    assert m.format(e).as_str() == "v = 10 20 30 90 90 120\n"


CHOICE = "m = fft1d *fft3d real_space_grid_search\n  .type = choice\n"


@pytest.mark.parametrize(
    "user, fetched, value",
    [
        ("m = auto", "m = Auto\n", phil.Auto),
        ("m = 'fft1d'", "m = *fft1d fft3d real_space_grid_search\n", "fft1d"),
        ("m = *FFT1D fft3d", "m = *fft1d fft3d real_space_grid_search\n", "fft1d"),
        ("m = fft1d fft3d", "m = fft1d fft3d real_space_grid_search\n", None),
        ("m = +fft1d", "m = *fft1d fft3d real_space_grid_search\n", "fft1d"),
    ],
)
def test_choice_fetch(user: str, fetched: str, value: object) -> None:
    w = phil.parse(CHOICE).fetch(source=phil.parse(user))
    assert w.as_str() == fetched
    assert w.extract().m == value


def test_choice_errors_and_format() -> None:
    m = phil.parse(CHOICE)
    with pytest.raises(ParameterError, match=r"^Not a possible choice for m: a\+ \(input line 1\)"):
        m.fetch(source=phil.parse("m = a+"))
    e = m.fetch().extract()
    assert e.m == "fft3d"
    e.m = "fft1d"
    assert m.format(e).as_str() == "m = *fft1d fft3d real_space_grid_search\n"
    e.m = None
    assert m.format(e).as_str() == "m = fft1d fft3d real_space_grid_search\n"
    e.m = "c"
    with pytest.raises(ParameterError, match=r"^Invalid choice: m=c$"):
        m.format(e)
    strict = phil.parse("m = a b c\n .type = choice\n .optional = False")
    with pytest.raises(ParameterError) as info:
        strict.fetch().extract()
    assert str(info.value) == (
        "Unspecified choice for m: exactly one choice must be selected (input line 1)"
    )


def test_multi_choice() -> None:
    multi = phil.parse("i = *auto profile sum scale\n .type = choice(multi=True)")
    w = multi.fetch(source=phil.parse("i = +profile + sum +scale"))
    assert w.extract().i == ["profile", "sum", "scale"]
    assert multi.fetch(source=phil.parse("i = *profile *sum")).extract().i == ["profile", "sum"]
    assert multi.fetch(source=phil.parse("i = profile sum")).extract().i == []
    assert multi.fetch(source=phil.parse("i = sum")).extract().i == ["sum"]
    assert multi.fetch().extract().i == ["auto"]
    e = multi.fetch().extract()
    e.i = ["sum", "scale"]
    assert multi.format(e).as_str() == "i = auto profile *sum *scale\n"
    e.i = ["c", "d"]
    with pytest.raises(ParameterError, match=r"^Invalid choice\(multi=True\): i=\['c', 'd'\]$"):
        multi.format(e)
    strict = phil.parse("i = a b\n .type = choice(multi=True)\n .optional = False")
    with pytest.raises(ParameterError, match="at least one choice must be selected"):
        strict.fetch().extract()
    with pytest.raises(ParameterError, match="Not a possible choice for i: None"):
        strict.fetch(source=phil.parse("i = None"))


@pytest.mark.parametrize(
    "user, selected",
    [("i = +c b+c", ["b", "c"]), ("i = a + b", ["a", "b"]), ("i = a+ b", ["a", "b"]),
     ("i = a b+c", ["a", "b", "c"])],
)
def test_plus_syntax_splits_on_spaces_too(user: str, selected: list[str]) -> None:
    multi = phil.parse("i = a *b c\n .type = choice(multi=True)")
    assert multi.fetch(source=phil.parse(user)).extract().i == selected


def test_every_source_choice_is_checked_and_errors_point_at_the_master() -> None:
    m = phil.parse("x = 1\nm = a *b c\n .type = choice\n .optional = False")
    with pytest.raises(ParameterError, match=r"^Not a possible choice for m: d \(input line 1\)"):
        m.fetch(sources=[phil.parse("m = d"), phil.parse("m = a")])
    with pytest.raises(ParameterError) as info:
        m.fetch(source=phil.parse("\n\nm = a c")).extract()
    assert str(info.value) == (
        "Unspecified choice for m: exactly one choice must be selected (input line 2)"
    )
