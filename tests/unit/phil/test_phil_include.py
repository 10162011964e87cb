"""``include file`` / ``include scope`` and the braggflow.params loader."""

from __future__ import annotations

import sys

import pytest

import braggflow.params as params
from braggflow import phil
from braggflow.errors import PhilError


def test_include_file_relative_to_including_file(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.phil").write_text("b = 2\n  .type = int\n")
    (tmp_path / "main.phil").write_text("a = 1\ns {\n  include file sub/inner.phil\n}\n")
    m = phil.parse(file_name=str(tmp_path / "main.phil"))
    assert m.as_str() == "a = 1\ns {\n  b = 2\n}\n"
    assert m.fetch(source=phil.parse("s.b = 5")).extract().s.b == 5
    raw = phil.parse(file_name=str(tmp_path / "main.phil"), process_includes=False)
    assert "include file sub/inner.phil" in raw.as_str()


def test_include_file_cycle(tmp_path) -> None:
    (tmp_path / "a.phil").write_text("include file b.phil\n")
    (tmp_path / "b.phil").write_text("include file a.phil\n")
    with pytest.raises(PhilError, match=r"^Include dependency cycle: .*a\.phil, .*b\.phil, .*a\.phil$"):
        phil.parse(file_name=str(tmp_path / "a.phil"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("include file", '"include" must be followed by at least two arguments (input line 1)'),
        ("include file a b", '"include file" must be followed exactly one argument (input line 1)'),
        ("include foo bar", "Unknown include type: foo (input line 1)"),
    ],
)
def test_include_errors(text: str, message: str) -> None:
    with pytest.raises(PhilError) as info:
        phil.parse(text)
    assert str(info.value) == message


def test_include_scope_is_restricted() -> None:
    with pytest.raises(PhilError, match=r'^include scope: "os.path" is not allowed'):
        phil.parse("include scope os.path")


@pytest.fixture
def tmp_module(tmp_path, monkeypatch):
    pkg = tmp_path / "bf_tmp_phil_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from braggflow import phil\n"
        "as_text = 'x = 1\\n .type = int\\nt { y = 2 }'\n"
        "as_scope = phil.parse('z = 3')\n"
        "def as_callable():\n    return phil.parse('w = 4')\n"
        "not_phil = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(phil, "include_scope_packages", ["braggflow.params", "bf_tmp_phil_pkg"])
    yield "bf_tmp_phil_pkg"
    sys.modules.pop("bf_tmp_phil_pkg", None)


def test_include_scope_string_scope_callable(tmp_module) -> None:
    m = phil.parse(
        f"include scope {tmp_module}.as_text\n"
        f"s {{ include scope {tmp_module}.as_scope }}\n"
        f"include scope {tmp_module}.as_callable\n"
        f"u {{ include scope {tmp_module}.as_text t }}"
    )
    assert m.as_str() == "x = 1\nt {\n  y = 2\n}\ns {\n  z = 3\n}\nw = 4\nu {\n  t {\n    y = 2\n  }\n}\n"
    assert m.all_definitions()[-1].path == "u.t.y"


def test_include_scope_errors(tmp_module) -> None:
    with pytest.raises(PhilError, match=r'^include scope: path "nope" not found in phil scope object'):
        phil.parse(f"include scope {tmp_module}.as_text nope")
    with pytest.raises(PhilError, match=r"is not a PHIL scope or string"):
        phil.parse(f"include scope {tmp_module}.not_phil")
    with pytest.raises(PhilError, match=r"has no attribute missing"):
        phil.parse(f"include scope {tmp_module}.missing")


def test_included_scope_is_copied(tmp_module) -> None:
    import importlib

    mod = importlib.import_module(tmp_module)
    m = phil.parse(f"include scope {tmp_module}.as_scope")
    m.objects[0].words = []
    assert mod.as_scope.as_str() == "z = 3\n"


def test_params_loader(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(params, "PARAMS_DIR", tmp_path)
    (tmp_path / "stage_a.phil").write_text("stage_a {\n  k = 1\n    .type = int\n}\n")
    (tmp_path / "prog.phil").write_text(
        "include scope braggflow.params.stage_a\nout = None\n  .type = path\n"
    )
    assert params.available() == ["prog", "stage_a"]
    assert params.stage_a.as_str() == "stage_a {\n  k = 1\n}\n"
    master = params.load_master("prog")
    assert master.as_str() == "stage_a {\n  k = 1\n}\nout = None\n"
    with pytest.raises(PhilError, match="Did you mean: stage_a.k"):
        master.fetch(source=phil.parse("k=3"))  # files need full paths
    it = master.command_line_argument_interpreter()
    assert master.fetch(source=it.process(arg="k=3")).extract().stage_a.k == 3
    with pytest.raises(AttributeError):
        params.no_such_stage
    with pytest.raises(PhilError, match="no parameter master for program 'nothing'"):
        params.load_master("nothing")


def test_shipped_masters_load() -> None:
    for name in params.available():
        master = params.load_master(name)
        assert master.all_definitions(), name
        master.fetch().extract()


def test_include_arguments_substitute_variables(tmp_path, monkeypatch) -> None:
    (tmp_path / "inner.phil").write_text("b = 2\n")
    monkeypatch.setenv("BF_TEST_INCLUDE_DIR", str(tmp_path))
    m = phil.parse("a = 1\ninclude file $BF_TEST_INCLUDE_DIR/inner.phil")
    assert m.as_str() == "a = 1\nb = 2\n"
    m = phil.parse(f"d = {tmp_path}\ninclude file $d/inner.phil")
    assert m.as_str() == f"d = {tmp_path}\nb = 2\n"


def test_params_include_scope_cycle(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(params, "PARAMS_DIR", tmp_path)
    (tmp_path / "loop_a.phil").write_text("include scope braggflow.params.loop_b\n")
    (tmp_path / "loop_b.phil").write_text("include scope braggflow.params.loop_a\n")
    with pytest.raises(PhilError, match=r"^Include dependency cycle: braggflow.params.loop_b, braggflow.params.loop_a, "):
        params.load_master("loop_a")
